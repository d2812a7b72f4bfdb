/* A study's page: its trials (sortable), the best-so-far curve, parallel coordinates, the
   importances, compare and train-the-best; live: every pushed page JSON re-renders it. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = {sort: {key: "number", dir: 1}, chart: null, study: null, job: null};
  const fmt = (v) => v == null ? "" : typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(1) : +v.toPrecision(4)) : String(v);
  const STATE_COLOR = {complete: "#2ca02c", pruned: "#ff7f0e", fail: "#d62728", running: "#1f77b4", waiting: "#7f7f7f"};

  function columns(study) {
    const params = Object.keys(study.search.space || {});
    return [["number", "#"], ...params.map((p) => ["param:" + p, p]), ["value", `val ${study.search.metric}`],
            ["best_epoch", "best epoch"], ["epochs", "epochs"], ["status", "status"], ["duration", "duration"]];
  }
  const cell = (t, key) => key.startsWith("param:") ? t.params[key.slice(6)] : t[key];

  function renderTable(study) {
    const cols = columns(study), table = $("study-trials");
    table.tHead.innerHTML = "<tr>" + cols.map(([k, label]) =>
      `<th data-sort="${dx.esc(k)}" aria-sort="${state.sort.key === k ? (state.sort.dir > 0 ? "ascending" : "descending") : "none"}">${dx.esc(label)}</th>`).join("") + "</tr>";
    const rows = [...study.trials].sort((a, b) => {
      const x = cell(a, state.sort.key), y = cell(b, state.sort.key);
      if (x == null) return 1; if (y == null) return -1;
      return (x > y ? 1 : x < y ? -1 : 0) * state.sort.dir;
    });
    const best = study.best ? study.best.number : null;
    table.tBodies[0].innerHTML = rows.map((t) => `<tr data-trial="${t.number}" class="${t.number === best ? "best-row" : ""}">` + cols.map(([k]) => {
      if (k === "number") return `<td>${t.url ? `<a href="${dx.esc(t.url)}">${t.number}</a>` : t.number}${t.number === best ? " ★" : ""}</td>`;
      if (k === "status") return `<td><span class="status ${dx.statusClass(t.status)}">${dx.esc(t.status)}</span>${t.pruned_at ? ` <span class="hint">at epoch ${t.pruned_at}</span>` : ""}${t.error ? ` <span class="hint">${dx.esc(t.error)}</span>` : ""}</td>`;
      if (k === "duration") return `<td>${t.duration != null ? dx.duration(t.duration) : ""}</td>`;
      return `<td>${dx.esc(fmt(cell(t, k)))}</td>`;
    }).join("") + "</tr>").join("") || `<tr><td colspan="${cols.length}" class="hint">no trial yet</td></tr>`;
  }

  function renderBest(study, job) {
    const b = study.best;
    $("study-best").textContent = b ? `Best: trial ${b.number}, val ${study.search.metric} ${fmt(b.value)} with ` +
      Object.entries(b.params).map(([k, v]) => `${k} ${fmt(v)}`).join(", ") : "No trial has finished yet.";
    $("study-train-best").hidden = !b;
    const ids = study.trials.filter((t) => t.job_id && t.url).map((t) => t.job_id);
    $("study-compare").hidden = ids.length < 1;
    $("study-compare").href = "/models/compare?job_id=" + encodeURIComponent(job.id);  // the study: its trials
    if (!window.Chart) return;
    const points = study.best_so_far.map(([n, value, best]) => ({x: n, y: best, value}));
    const data = {datasets: [
      {label: "best so far", data: points, stepped: true, borderColor: "#2ca02c", pointRadius: 0},
      {label: "trial", data: study.best_so_far.map(([n, value]) => ({x: n, y: value})), showLine: false, borderColor: "#1f77b4", pointRadius: 3}]};
    if (state.chart) { state.chart.data = data; state.chart.update("none"); return; }
    state.chart = new Chart($("study-best-chart"), {type: "line", data, options: {animation: false, maintainAspectRatio: false,
      scales: {x: {type: "linear", title: {display: true, text: "trial"}}, y: {title: {display: true, text: study.search.metric}}}}});
  }

  function renderImportances(study) {
    const rows = Object.entries(study.importances || {});
    $("study-importances").tBodies[0].innerHTML = rows.length ? rows.map(([k, v]) =>
      `<tr><td>${dx.esc(k)}</td><td><div class="bar" style="width:${Math.round(v * 200)}px"></div></td><td>${fmt(v)}</td></tr>`).join("")
      : `<tr><td class="hint">not yet: at least 4 finished trials and 2 searched fields</td></tr>`;
  }

  function renderParallel(study) {
    const done = study.trials.filter((t) => t.value != null);
    const params = Object.keys(study.search.space || {});
    $("study-parallel-card").hidden = done.length < 2;
    if (done.length < 2) return;
    const axes = [...params.map((p) => ({label: p, values: done.map((t) => t.params[p] ?? null)})),
                  {label: `val ${study.search.metric}`, values: done.map((t) => t.value)}];
    dx.parallelCoordinates($("study-parallel"), axes, done.map((t) => ({id: t.job_id, name: `trial ${t.number} (${t.state})`, color: STATE_COLOR[t.state] || "#7f7f7f"})));
  }

  function render(job) {
    if (!job.study) return;
    state.study = job.study; state.job = job;
    renderTable(job.study); renderBest(job.study, job); renderImportances(job.study); renderParallel(job.study);
  }

  $("study-trials").tHead.addEventListener("click", (e) => {
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    state.sort = {key: th.dataset.sort, dir: state.sort.key === th.dataset.sort ? -state.sort.dir : 1};
    renderTable(state.study);
  });
  $("study-train-best").addEventListener("click", async () => {
    try {
      const epochs = $("study-best-epochs").value;
      const made = await dx.api("POST", `/jobs/${state.job.id}/train_best.json`, epochs ? {train_epochs: epochs} : {});
      window.location = made.url;
    } catch (e) { $("study-best").textContent = e.message; }
  });
  window.dxJobHooks = window.dxJobHooks || [];
  window.dxJobHooks.push(render);
})();
