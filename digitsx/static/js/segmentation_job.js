/* Segmentation job pages: the dataset's class shares, palette and health; the model's per-class
   IoU and confusion; a test report's metrics and lowest-IoU gallery. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const pct = (v) => v == null ? "—" : `${(100 * v).toFixed(1)}%`;
  const chip = (rgb) => rgb ? `<span class="key" style="background:rgb(${rgb.join(",")})"></span>` : "";

  function dataset(job) {
    const d = job.segmentation;
    if (!d || !$("segmentation-facts")) return;
    const img = d.image || {}, splits = d.splits || {};
    const rows = [["Image", img.width ? `${img.width} × ${img.height} × ${img.channels}` : ""], ["Encoding", img.encoding],
      ["Classes", d.labels.length || ""], ...["train", "val"].filter((s) => splits[s]).map((s) => [s, `${splits[s].entries} images` + (splits[s].ignored ? `, ${splits[s].ignored} ignored pixels` : "")]),
      ["Build speed", d.images_per_second ? `${Math.round(d.images_per_second)} images/s` : ""]];
    $("segmentation-facts").innerHTML = rows.filter((r) => r[1]).map(([k, v]) => `<dt>${dx.esc(k)}</dt><dd>${dx.esc(v)}</dd>`).join("");
    const live = d.pixels || {};
    const share = (s, i) => splits[s] && splits[s].share ? pct(splits[s].share[i]) : live[s] ? String(live[s][i] || 0) : "";
    const images = (s, i) => splits[s] && splits[s].images ? splits[s].images[i] : "";
    $("class-shares").tBodies[0].innerHTML = d.labels.map((name, i) => `<tr data-class="${i}"><td>${i}</td><td>${chip((d.palette || [])[i])}</td><td>${dx.esc(name)}</td>
      <td>${share("train", i)}</td><td>${images("train", i)}</td><td>${share("val", i)}</td><td>${images("val", i)}</td></tr>`).join("");
    const h = d.health;
    $("segmentation-health").hidden = !h;
    if (h) {
      const kinds = Object.entries(h.counts || {});
      $("seg-health-summary").textContent = kinds.length ? kinds.map(([k, n]) => `${n} × ${k}`).join(" · ") : "No problems found.";
      $("seg-health-issues").hidden = !h.issues.length;
      $("seg-health-issues").tBodies[0].innerHTML = h.issues.map((i) => `<tr><td>${dx.esc(i.kind)}</td><td>${dx.esc(i.message)}</td></tr>`).join("");
    }
  }

  function confusion(table, m, labels) {
    if (!m) return;
    const max = Math.max(1, ...m.flat());
    table.innerHTML = `<tr><th></th>${labels.map((l) => `<th>${dx.esc(String(l).slice(0, 8))}</th>`).join("")}</tr>` +
      m.map((row, i) => `<tr><th>${dx.esc(labels[i])}</th>${row.map((n, j) => `<td style="background:rgba(${i === j ? "118,185,0" : "192,57,43"},${(n / max).toFixed(2)})">${n}</td>`).join("")}</tr>`).join("");
  }

  function model(job) {
    const card = $("segmentation-validation");
    if (!card) return;
    const m = job.model || {}, v = m.validation, labels = m.labels || [];
    card.hidden = !v;
    if (!v) return;
    $("seg-validation-epoch").textContent = `epoch ${v.epoch}: mIoU ${v.miou.toFixed(3)}, pixel accuracy ${v.accuracy.toFixed(1)}%, loss ${v.loss.toFixed(4)}`;
    $("per-class-iou").tBodies[0].innerHTML = (v.per_class_iou || []).map((iou, i) => `<tr><td>${chip((m.palette || [])[i])} ${dx.esc(labels[i] ?? i)}</td><td>${iou == null ? "—" : iou.toFixed(3)}</td></tr>`).join("");
    confusion($("seg-confusion"), v.confusion, labels);
  }

  let loaded = false;
  async function report(job) {
    if (!$("segmentation-report") || loaded || !job.results_url) return;
    loaded = true;
    const data = await (await dx.fetch(job.results_url)).json();
    const r = data.report;
    $("seg-report-state").textContent = `${r.images} images (epoch ${r.epoch})`;
    $("seg-report-links").hidden = false;
    $("seg-report-facts").innerHTML = [["mIoU", r.miou != null ? r.miou.toFixed(3) : ""], ["Pixel accuracy", r.accuracy != null ? `${r.accuracy.toFixed(1)}%` : ""],
      ["Unreadable images", r.errors || ""]].filter((x) => x[1] !== "").map(([k, v]) => `<dt>${k}</dt><dd>${dx.esc(v)}</dd>`).join("");
    if (r.per_class_iou) {
      $("seg-report-per-class").hidden = false;
      $("seg-report-per-class").tBodies[0].innerHTML = r.per_class_iou.map((iou, i) => `<tr><td>${chip((r.palette || [])[i])} ${dx.esc(r.labels[i])}</td><td>${iou == null ? "—" : iou.toFixed(3)}</td></tr>`).join("");
      confusion($("seg-report-confusion"), r.confusion, r.labels);
      $("seg-gallery-title").hidden = false;
      const byIndex = new Map(data.images.map((im) => [im.index, im]));
      $("seg-gallery").innerHTML = (r.gallery || []).map((i) => `<figure class="triptych">${["image", "label", "predicted"].map((part) =>
        `<img src="/models/${job.id}/segmentation-images/${i}_${part}.png" alt="${part}" width="160">`).join("")}<figcaption class="hint">${dx.esc(byIndex.get(i).path)}: IoU ${byIndex.get(i).miou.toFixed(3)}</figcaption></figure>`).join("");
    } else {
      $("seg-report-images").innerHTML = `<table class="grid"><thead><tr><th>Image</th><th>Class shares</th></tr></thead><tbody>${data.images.slice(0, 500).map((im) =>
        `<tr><td>${dx.esc(im.path)}</td><td>${im.error ? dx.esc(im.error) : im.share.map((v, c) => v > 0 ? `${dx.esc(r.labels[c])} ${pct(v)}` : "").filter(Boolean).join(", ")}</td></tr>`).join("")}</tbody></table>`;
    }
  }

  const opacity = $("label-opacity");  // Explore: the labels' opacity, in the browser
  if (opacity) opacity.addEventListener("input", () => document.querySelectorAll(".label-layer").forEach((img) => { img.style.opacity = opacity.value; }));

  window.dxJobHooks = window.dxJobHooks || [];
  window.dxJobHooks.push((job) => { dataset(job); model(job); report(job).catch((e) => { loaded = false; $("seg-report-state").textContent = e.message; }); });
})();
