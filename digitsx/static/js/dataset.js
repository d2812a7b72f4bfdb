/* A dataset's page: facts, live class-distribution chart, mean image, health, skipped list. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SPLITS = ["train", "val", "test"];

  function facts(job) {
    const d = job.dataset || {}, img = d.image || {};
    const splits = d.splits || {};
    const rows = [
      ["Image size", img.width ? `${img.width} × ${img.height}` : ""],
      ["Image type", img.channels === 1 ? "Grayscale" : "Color"],
      ["Resize mode", img.resize_mode], ["Encoding", img.encoding], ["Backend", "LMDB"],
      ["Classes", (d.labels || []).length || ""],
      ...SPLITS.filter((s) => splits[s] || (d.planned || {})[s]).map((s) =>
        [`${s} images`, splits[s] ? splits[s].entries : `${(d.planned || {})[s]} planned`]),
      ["Size on disk", d.size_bytes != null ? dx.bytes(d.size_bytes) : ""],
      ["Build speed", d.images_per_second ? `${Math.round(d.images_per_second)} images/s` : ""],
    ];
    $("dataset-facts").innerHTML = rows.filter((r) => r[1] !== "" && r[1] != null)
      .map(([k, v]) => `<dt>${dx.esc(k)}</dt><dd>${dx.esc(v)}</dd>`).join("");
  }

  function distribution(job) {
    const d = job.dataset || {}, labels = d.labels || [], splits = d.splits || {};
    const counts = (s) => (splits[s] && splits[s].counts) || [];
    const max = Math.max(1, ...SPLITS.flatMap((s) => counts(s)));
    $("distribution").innerHTML = labels.length ? labels.map((name, i) => `
      <div class="bar-row" data-label="${i}"><span class="bar-label" title="${dx.esc(name)}">${dx.esc(name)}</span>
        <span class="bar-stack">${SPLITS.filter((s) => counts(s).length).map((s) =>
          `<span class="bar split-${s}" style="width:${(100 * (counts(s)[i] || 0) / max).toFixed(1)}%" title="${s}: ${counts(s)[i] || 0}"></span><span class="bar-n">${counts(s)[i] || 0}</span>`).join("")}
        </span></div>`).join("") + `<div class="legend">${SPLITS.filter((s) => counts(s).length).map((s) => `<span class="key split-${s}"></span>${s}`).join(" ")}</div>`
      : '<p class="hint">The chart fills in as images are stored.</p>';
  }

  function health(job) {
    const h = (job.dataset || {}).health;
    $("health-card").hidden = !h;
    if (!h) return;
    $("health-warnings").innerHTML = h.warnings.length
      ? h.warnings.map((w) => `<li class="warn">${dx.esc(w)}</li>`).join("") : '<li class="ok">No imbalance and no duplicate images found.</li>';
    const groups = [];
    for (const [split, gs] of Object.entries(h.duplicates_within || {}))
      for (const g of gs) groups.push(`<li>within ${dx.esc(split)}: ${g.map(dx.esc).join(", ")}</li>`);
    for (const g of h.duplicates_across || [])
      groups.push(`<li>across splits: ${g.splits.map((s) => `${dx.esc(s.split)}: ${s.paths.map(dx.esc).join(", ")}`).join(" ↔ ")}</li>`);
    $("duplicates").innerHTML = groups.length ? `<h3>Duplicates</h3><ul class="dups">${groups.join("")}</ul>` : "";
  }

  function skipped(job) {
    const d = job.dataset || {};
    const list = d.skipped || [], dropped = d.dropped || [];
    $("skipped-card").hidden = !list.length && !dropped.length;
    $("skipped-count").textContent = d.skipped_count ? `(${d.skipped_count})` : "";
    $("skipped").tBodies[0].innerHTML = list.map((s) =>
      `<tr><td>${dx.esc(s.split || "")}</td><td><code>${dx.esc(s.path)}</code></td><td>${dx.esc(s.reason)}</td></tr>`).join("");
    $("skipped").hidden = !list.length;
    $("dropped").innerHTML = dropped.length ? `<p>Dropped classes: ${dropped.map((c) => `${dx.esc(c.class)} (${c.count} images, ${dx.esc(c.reason)})`).join("; ")}</p>` : "";
  }

  function mean(job) {
    const url = (job.dataset || {}).mean_image;
    $("mean-image").hidden = !url;
    $("mean-none").hidden = !!url;
    if (url && !$("mean-image").src.endsWith(url)) $("mean-image").src = url;
  }

  window.dxJobHooks = window.dxJobHooks || [];
  window.dxJobHooks.push((job) => { facts(job); distribution(job); health(job); skipped(job); mean(job); });
})();
