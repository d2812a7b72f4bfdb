/* Object-detection job pages: the dataset's counts, histograms and health; the model's
   per-class AP; a test report's metrics, curves and gallery. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d = 3) => v == null ? "—" : Number(v).toFixed(d);

  function bars(el, hist, label) {
    if (!el || !hist) return;
    const max = Math.max(1, ...hist.counts);
    el.innerHTML = hist.counts.map((c, i) => `<div class="bar-row"><span class="bar-label">${label(hist.edges[i], hist.edges[i + 1])}</span>
      <span class="bar-stack"><span class="bar split-train" style="width:${(100 * c / max).toFixed(1)}%"></span><span class="bar-n">${c}</span></span></div>`).join("");
  }

  function dataset(job) {
    const d = job.detection;
    if (!d || !$("detection-facts")) return;
    const img = d.image || {}, splits = d.splits || {};
    const rows = [["Label format", d.label_format], ["Image", img.width ? `${img.width} × ${img.height} × ${img.channels}` : ""],
      ["Padding", img.padding ? img.padding.join(" × ") : img.width ? "none" : ""], ["Resize", img.resize ? img.resize.join(" × ") : ""],
      ["Encoding", img.encoding], ["Classes", d.labels.length || ""],
      ...["train", "val"].filter((s) => splits[s] && splits[s].entries != null).map((s) => [`${s}`, `${splits[s].entries} images, ${splits[s].boxes} boxes` + (splits[s].dont_care ? ` (${splits[s].dont_care} don't care)` : "")]),
      ["Build speed", d.images_per_second ? `${Math.round(d.images_per_second)} images/s` : ""],
      ["Class list", d.labels_file ? "labels.txt" : ""]];
    $("detection-facts").innerHTML = rows.filter((r) => r[1]).map(([k, v]) => `<dt>${dx.esc(k)}</dt><dd>${k === "Class list" ? `<a href="${d.labels_file}">${v}</a>` : dx.esc(v)}</dd>`).join("");
    const counts = (s) => (splits[s] && splits[s].counts) || [];
    $("class-counts").tBodies[0].innerHTML = d.labels.map((name, i) =>
      `<tr data-class="${i}"><td>${i}</td><td>${dx.esc(name)}</td><td>${counts("train")[i] ?? ""}</td><td>${counts("val")[i] ?? ""}</td></tr>`).join("");
    const h = d.histograms || {};
    bars($("size-histogram"), h.size, (a, b) => b == null ? `≥ ${a}` : `${a}–${b}`);
    bars($("aspect-histogram"), h.aspect, (a, b) => b == null ? `≥ ${a}` : `${a}–${b}`);
    const health = d.health;
    $("detection-health").hidden = !health;
    if (health) {
      const kinds = Object.entries(health.counts || {});
      $("health-summary").textContent = kinds.length ? kinds.map(([k, n]) => `${n} × ${k}`).join(" · ") : "No problems found: every image has labels, every label an image, every box is inside its image.";
      $("health-issues").hidden = !health.issues.length;
      $("health-issues").tBodies[0].innerHTML = health.issues.map((i) =>
        `<tr><td>${dx.esc(i.kind)}</td><td><code>${dx.esc(i.where)}</code></td><td>${dx.esc(i.message)}</td></tr>`).join("");
    }
  }

  function model(job) {
    const card = $("detection-validation");
    if (!card) return;
    const v = (job.model || {}).validation;
    card.hidden = !v;
    if (!v) return;
    $("detection-validation-epoch").textContent = `epoch ${v.epoch}: mAP@0.5 ${fmt(v.map_50)}, mAP@0.5:0.95 ${fmt(v.map)}, precision ${fmt(v.precision)}, recall ${fmt(v.recall)} at confidence ${fmt(v.threshold, 2)}`;
    $("per-class-ap").tBodies[0].innerHTML = (v.per_class || []).map((c) =>
      `<tr><td>${dx.esc(c.label)}</td><td>${fmt(c.ap_50)}</td><td>${fmt(c.ap)}</td></tr>`).join("");
  }

  let loaded = false;
  async function report(job) {
    if (!$("detection-report") || loaded || !job.results_url) return;
    loaded = true;
    const data = await (await dx.fetch(job.results_url)).json();
    const r = data.report;
    $("report-state").textContent = `${r.images} images, ${r.detections} detections (epoch ${r.epoch})`;
    $("report-links").hidden = false;
    const rows = [["mAP@0.5", r.map_50 != null ? fmt(r.map_50) : ""], ["mAP@0.5:0.95", r.map != null ? fmt(r.map) : ""],
      ["Best F1 point", r.best ? `precision ${fmt(r.best.precision)}, recall ${fmt(r.best.recall)} at confidence ${fmt(r.best.threshold, 2)}` : ""],
      ["Unreadable images", r.errors || ""]];
    $("report-facts").innerHTML = rows.filter((x) => x[1] !== "").map(([k, v]) => `<dt>${k}</dt><dd>${dx.esc(v)}</dd>`).join("");
    if (r.pr_curve) {
      $("report-metrics").hidden = false;
      const c = r.pr_curve;
      new Chart($("pr-chart"), {type: "line", data: {datasets: [{label: "precision", data: c.map((p) => ({x: p.recall, y: p.precision})), pointRadius: 0}]},
        options: {animation: false, scales: {x: {type: "linear", min: 0, max: 1, title: {display: true, text: "recall"}}, y: {min: 0, max: 1}}}});
      const byConf = [...c].filter((p) => p.confidence > 0).sort((a, b) => a.confidence - b.confidence);
      new Chart($("prf-chart"), {type: "line", data: {datasets: ["precision", "recall", "f1"].map((k) => ({label: k, data: byConf.map((p) => ({x: p.confidence, y: k === "recall" ? p.recall : p[k]})), pointRadius: 0}))},
        options: {animation: false, scales: {x: {type: "linear", min: 0, max: 1, title: {display: true, text: "confidence"}}, y: {min: 0, max: 1}}}});
      $("report-per-class").tBodies[0].innerHTML = r.per_class.map((x) => `<tr><td>${dx.esc(x.label)}</td><td>${fmt(x.ap_50)}</td><td>${fmt(x.ap)}</td></tr>`).join("");
      const byIndex = new Map(data.images.map((im) => [im.index, im]));
      dxBoxes.gallery($("report-gallery"), (r.gallery || []).map((i) => byIndex.get(i)).map((im) => ({
        url: `/models/${job.id}/detection-images/${im.index}.jpg`, scale: 1 / (im.thumb_scale || 1),
        caption: `${dx.esc(im.path)}: ${im.missed} missed, ${im.false} false`,
        boxes: [...im.truth.map((t) => ({box: t.box, class: t.class, ignore: true})),
                ...im.detections.filter((d) => d.confidence >= r.threshold).map((d) => ({box: d.box, class: d.class}))],
      })));
    } else {
      $("report-images").innerHTML = `<table class="grid"><thead><tr><th>Image</th><th>Detections ≥ ${fmt(r.threshold, 2)}</th></tr></thead><tbody>${
        data.images.slice(0, 500).map((im) => `<tr><td>${dx.esc(im.path)}</td><td>${im.error ? dx.esc(im.error) :
          im.detections.filter((d) => d.confidence >= r.threshold).map((d) => `${dx.esc(d.label)} ${d.confidence.toFixed(2)}`).join(", ")}</td></tr>`).join("")}</tbody></table>`;
    }
  }

  window.dxJobHooks = window.dxJobHooks || [];
  window.dxJobHooks.push((job) => { dataset(job); model(job); report(job).catch((e) => { loaded = false; $("report-state").textContent = e.message; }); });
})();
