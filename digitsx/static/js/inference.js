/* An inference job's report: accuracy, per-class table, a confusion matrix whose cells list
   their images (most confident first), every image's top 5, top N per category. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const job0 = JSON.parse(document.getElementById("initial-job").textContent);
  const base = `/models/${job0.id}`;
  const view = {page: 0, size: 25, true: null, predicted: null};
  let loaded = false;

  const preds = (list) => (list || []).map(([label, pct], i) =>
    `<div class="${i === 0 ? "strong" : ""}">${dx.esc(label)} <span class="hint">${pct.toFixed(2)}%</span></div>`).join("");

  function renderReport(r) {
    $("report-state").textContent = "";
    $("report-links").hidden = false;
    $("report-epoch").textContent = r.epoch;
    const facts = [["Classified", `${r.classified} of ${r.images}` + (r.errors ? ` (${r.errors} unreadable)` : "")],
      ["Speed", r.images_per_second ? `${r.images_per_second} images/s (${dx.duration(r.seconds)})` : ""]];
    if (r.labelled) facts.push(["Labelled", r.labelled], ["Top-1 accuracy", `${r.top1}%`], ["Top-5 accuracy", `${r.top5}%`]);
    $("report-facts").insertAdjacentHTML("beforeend", facts.map(([k, v]) =>
      `<dt>${dx.esc(k)}</dt><dd data-fact="${dx.esc(k)}">${dx.esc(v)}</dd>`).join(""));
    $("accuracy-card").hidden = !r.labelled;
    if (r.labelled) {
      $("test-per-class").tBodies[0].innerHTML = r.per_class.map((c, i) => `<tr><td>${dx.esc(c.label)}</td><td>${c.images}</td>
        <td>${c.top1 == null ? "—" : c.top1 + "%"}</td><td>${c.top5 == null ? "—" : c.top5 + "%"}</td></tr>`).join("");
      const labels = r.labels, max = Math.max(1, ...(r.confusion || []).flat());
      if (r.confusion) $("test-confusion").innerHTML = `<tr><th></th>${labels.map((l) => `<th title="${dx.esc(l)}">${dx.esc(String(l).slice(0, 6))}</th>`).join("")}</tr>` +
        r.confusion.map((row, i) => `<tr><th>${dx.esc(labels[i])}</th>${row.map((n, j) =>
          `<td style="background:rgba(${i === j ? "118,185,0" : "192,57,43"},${(n / max).toFixed(2)})">${n ? `<a href="#images-card" class="cell" data-true="${i}" data-predicted="${j}">${n}</a>` : 0}</td>`).join("")}</tr>`).join("");
    }
  }

  async function loadImages() {
    const q = new URLSearchParams({page: view.page, size: view.size});
    if (view.true != null) q.set("true", view.true);
    if (view.predicted != null) q.set("predicted", view.predicted);
    const data = await dx.api("GET", `${base}/results.json?${q}`);
    $("images-card").hidden = false;
    const filtered = view.true != null;
    $("images-all").hidden = !filtered;
    $("images-filter").textContent = filtered
      ? `true: ${data.labels[view.true]} · predicted: ${data.labels[view.predicted]} — ${data.total} images, most confident first`
      : `${data.total} images`;
    $("images-page").textContent = `page ${data.page + 1} of ${data.pages}`;
    $("images-prev").disabled = data.page === 0;
    $("images-next").disabled = data.page + 1 >= data.pages;
    $("images-table").tBodies[0].innerHTML = data.rows.map((row) => `<tr data-index="${row.index}">
      <td><img class="thumb" src="${dx.esc(row.image)}${row.image.startsWith(base) ? "?size=96" : ""}" alt="" width="64"></td>
      <td><code>${dx.esc(row.path)}</code></td><td>${dx.esc(row.label ?? "—")}</td>
      <td>${row.error ? `<span class="error-text">${dx.esc(row.error)}</span>` : preds(row.predictions)}</td></tr>`).join("");
  }

  async function loadTopN() {
    const n = Math.max(1, Math.min(100, parseInt($("top-n-count").value, 10) || 9));
    const data = await dx.api("GET", `${base}/top_n.json?n=${n}`);
    $("top-n").hidden = false;
    $("top-n-grid").innerHTML = data.top_n.map((c) => `<h3>${dx.esc(c.label)}</h3><div class="gallery" data-class="${dx.esc(c.label)}">${
      c.images.map((im) => `<figure><img loading="lazy" src="${dx.esc(im.image)}${im.image.startsWith(base) ? "?size=128" : ""}" alt="" title="${dx.esc(im.path)}">
        <figcaption>${im.pct.toFixed(2)}%${im.label ? ` · ${dx.esc(im.label)}` : ""}</figcaption></figure>`).join("")}</div>`).join("");
  }

  async function load(job) {
    const report = job.inference && job.inference.report;
    if (loaded || job.status !== "Done" || !report) return;
    loaded = true;
    renderReport(report);
    await Promise.all([loadImages(), loadTopN()]);
    if (location.hash === "#top-n") $("top-n").scrollIntoView();
  }

  $("test-confusion").addEventListener("click", (e) => {
    const a = e.target.closest("a.cell");
    if (!a) return;
    e.preventDefault();
    Object.assign(view, {page: 0, true: +a.dataset.true, predicted: +a.dataset.predicted});
    loadImages().then(() => $("images-card").scrollIntoView());
  });
  $("images-all").addEventListener("click", () => { Object.assign(view, {page: 0, true: null, predicted: null}); loadImages(); });
  $("images-prev").addEventListener("click", () => { view.page = Math.max(0, view.page - 1); loadImages(); });
  $("images-next").addEventListener("click", () => { view.page += 1; loadImages(); });
  $("top-n-count").addEventListener("change", loadTopN);

  window.dxJobHooks = window.dxJobHooks || [];
  window.dxJobHooks.push((job) => { load(job).catch((err) => { loaded = false; $("report-state").textContent = err.message; }); });
  load(job0).catch((err) => { loaded = false; $("report-state").textContent = err.message; });
})();
