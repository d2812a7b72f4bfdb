/* The comparison page: /models/compare.json drawn as overlaid curves (a chosen metric, x by
   epoch, step or wall time, smoothing, log scale), a table sortable by any column with the
   settings that differ and a CSV download, and a parallel-coordinates plot of the numeric
   settings that differ. Running jobs update live: the page joins their Socket.IO rooms and adds
   each metric point as it comes; a job that ends (or rewinds) is fetched again, once. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const ids = JSON.parse($("compare-ids").textContent);
  const url = "/models/compare.json?" + ids.map((i) => "job_id=" + encodeURIComponent(i)).join("&");
  const state = {data: null, metric: null, sort: {key: "name", dir: 1}, chart: null, highlight: null};
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const color = (i) => i < COLORS.length ? COLORS[i] : `hsl(${(i * 137.5) % 360} 60% 45%)`;
  const fmt = (v) => (v == null || v === "" ? "" : typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(1) : +v.toPrecision(4)) : String(v));

  function metrics() {
    const d = state.data;
    const all = new Set(d.jobs.flatMap((j) => Object.keys(j.metrics)));
    const shared = new Set(d.shared_metrics);
    return [...all].sort((a, b) => (shared.has(b) - shared.has(a)) || a.localeCompare(b));
  }

  function defaultMetric() {
    const main = state.data.jobs.map((j) => j.main_metric && j.main_metric.key).find((k) => k && state.data.shared_metrics.includes(k));
    return main || state.data.shared_metrics.find((k) => k.startsWith("val/")) || state.data.shared_metrics[0] || metrics()[0] || null;
  }

  function smooth(values, w) {
    if (!w) return values;
    let last = null;
    return values.map((v) => (last = last == null ? v : last * w + v * (1 - w)));
  }

  function drawChart() {
    const d = state.data, key = state.metric, xKind = $("cmp-x").value, w = +$("cmp-smooth").value;
    const datasets = d.jobs.map((j, i) => {
      const s = (j.series[key] || []);
      const t0 = s.length ? s[0][2] : 0;
      const ys = smooth(s.map((p) => p[3]), w);
      return {label: j.name, jobId: j.id, borderColor: color(i), backgroundColor: color(i), pointRadius: s.length > 60 ? 0 : 2,
              borderWidth: state.highlight == null || state.highlight === i ? 2 : 1,
              data: s.map((p, k) => ({x: xKind === "epoch" ? p[0] : xKind === "step" ? p[1] : p[2] - t0, y: ys[k]}))};
    });
    const options = {
      animation: false, parsing: false, normalized: true,
      interaction: {mode: "nearest", axis: "x", intersect: false},
      scales: {x: {type: "linear", title: {display: true, text: xKind === "time" ? "seconds" : xKind}},
               y: {type: $("cmp-log").checked ? "logarithmic" : "linear", title: {display: true, text: key || ""}}},
      plugins: {legend: {onHover: (e, item) => { state.highlight = item.datasetIndex; restyle(); },
                         onLeave: () => { state.highlight = null; restyle(); }},
                tooltip: {mode: "x", intersect: false,
                          callbacks: {label: (c) => `${c.dataset.label}: ${fmt(c.parsed.y)}`}}},
    };
    if (state.chart) { state.chart.data.datasets = datasets; state.chart.options = options; state.chart.update("none"); }
    else state.chart = new Chart($("cmp-chart"), {type: "line", data: {datasets}, options});
    window.dxCompareDrawn = (window.dxCompareDrawn || 0) + 1;
  }

  function restyle() {
    if (!state.chart) return;
    state.chart.data.datasets.forEach((ds, i) => { ds.borderWidth = state.highlight == null || state.highlight === i ? 2 : 1; });
    state.chart.update("none");
  }

  function columns() {
    const d = state.data;
    const cols = [{key: "name", label: "Run"}, {key: "task", label: "Task"}, {key: "status", label: "Status"},
                  {key: "network", label: "Network"}, {key: "dataset", label: "Dataset"}, {key: "wall_time", label: "Wall time"}];
    for (const m of metrics()) cols.push({key: "m:" + m, label: `${m} best`, metric: m});
    for (const f of Object.keys(d.differing)) cols.push({key: "f:" + f, label: f, field: f});
    return cols;
  }

  function cell(j, i, c) {
    if (c.metric) { const m = j.metrics[c.metric]; return m ? m.best : null; }
    if (c.field) return state.data.differing[c.field][i];
    if (c.key === "dataset") return j.dataset.name || j.dataset.id;
    return j[c.key];
  }

  function rows() {
    const cols = columns(), c = cols.find((x) => x.key === state.sort.key) || cols[0];
    const list = state.data.jobs.map((j, i) => ({j, i}));
    const v = (r) => cell(r.j, r.i, c);
    return list.sort((a, b) => {
      const x = v(a), y = v(b);
      if (x == null) return 1; if (y == null) return -1;
      return (x > y ? 1 : x < y ? -1 : 0) * state.sort.dir;
    });
  }

  function drawTable() {
    const cols = columns();
    $("cmp-table").tHead.innerHTML = `<tr>${cols.map((c) => `<th data-sort="${dx.esc(c.key)}" data-dir="${state.sort.key === c.key ? (state.sort.dir > 0 ? "asc" : "desc") : ""}">${dx.esc(c.label)}</th>`).join("")}</tr>`;
    $("cmp-table").tBodies[0].innerHTML = rows().map(({j, i}) => `<tr data-id="${dx.esc(j.id)}">${cols.map((c) => {
      let v = cell(j, i, c);
      if (c.key === "name") return `<td><span class="swatch" style="background:${color(i)}"></span> <a href="${dx.esc(j.url)}">${dx.esc(j.name)}</a></td>`;
      if (c.key === "wall_time") v = dx.duration(v);
      else if (c.metric && j.metrics[c.metric]) return `<td title="best at epoch ${fmt(j.metrics[c.metric].best_epoch)}, last ${fmt(j.metrics[c.metric].last)}">${fmt(v)} <span class="hint">@${fmt(j.metrics[c.metric].best_epoch)}</span></td>`;
      return `<td>${dx.esc(fmt(v))}</td>`;
    }).join("")}</tr>`).join("");
  }

  function csv() {
    const cols = columns();
    const q = (v) => { const s = v == null ? "" : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
    const lines = [cols.map((c) => q(c.label)).concat(cols.filter((c) => c.metric).map((c) => q(c.metric + " best epoch"))).join(",")];
    for (const {j, i} of rows())
      lines.push(cols.map((c) => q(cell(j, i, c))).concat(cols.filter((c) => c.metric).map((c) => q((j.metrics[c.metric] || {}).best_epoch))).join(","));
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
    a.download = "comparison.csv";
    document.body.appendChild(a); a.click(); a.remove();
  }

  function drawParallel() {
    const d = state.data, svg = $("cmp-parallel");
    const numeric = Object.entries(d.differing).filter(([, vs]) => vs.every((v) => typeof v === "number"));
    $("cmp-parallel-card").hidden = numeric.length === 0;
    if (!numeric.length) return;
    const axes = [...numeric.map(([k, vs]) => ({label: k, values: vs})),
                  {label: `${state.metric} best`, values: d.jobs.map((j) => (j.metrics[state.metric] || {}).best ?? null)}];
    dx.parallelCoordinates(svg, axes, d.jobs.map((j, i) => ({id: j.id, name: j.name, color: color(i)})));
  }

  function draw() {
    const select = $("cmp-metric"), keys = metrics();
    if (!state.metric || !keys.includes(state.metric)) state.metric = defaultMetric();
    const shared = new Set(state.data.shared_metrics);
    select.innerHTML = keys.map((k) => `<option value="${dx.esc(k)}" ${k === state.metric ? "selected" : ""}>${dx.esc(k)}${shared.has(k) ? "" : " (not every run)"}</option>`).join("");
    drawChart(); drawTable(); drawParallel();
    const running = state.data.jobs.filter((j) => dx.isActive(j.status)).length;
    $("cmp-status").textContent = running ? `${running} running: live` : "";
  }

  /* Live: a metric point joins its job's series and updates that metric's best and last; the
     page is redrawn at most every half second. When a live series has doubled past the
     server's limit, the whole comparison is fetched again (thinned there). */
  let drawTimer = null, reloading = false;
  const drawSoon = () => { if (!drawTimer) drawTimer = setTimeout(() => { drawTimer = null; draw(); }, 500); };

  function addPoint(msg) {
    const j = state.data && state.data.jobs.find((x) => x.id === msg.job_id);
    if (!j) return;
    for (const [name, v] of Object.entries(msg.values || {})) {
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      const key = `${msg.phase}/${name}`, s = (j.series[key] = j.series[key] || []);
      s.push([+msg.epoch || 0, +msg.step || 0, +msg.t || Date.now() / 1000, v]);
      const m = j.metrics[key], way = m ? m.goal : /loss|error/i.test(name) ? "min" : "max";
      const better = !m || (way === "min" ? v < m.best : v > m.best);
      j.metrics[key] = {...(m || {}), goal: way, last: v, points: ((m || {}).points || 0) + 1,
                        ...(better ? {best: v, best_epoch: +msg.epoch || 0} : {})};
      if (j.main_metric && j.main_metric.key === key) Object.assign(j.main_metric, j.metrics[key]);
      if (s.length > 2 * (state.data.max_points || 2000)) reloadSoon();
    }
    const sets = state.data.jobs.map((x) => new Set(Object.keys(x.metrics)));
    state.data.shared_metrics = [...sets[0] || []].filter((k) => sets.every((set) => set.has(k))).sort();
    window.dxComparePoints = (window.dxComparePoints || 0) + 1;
    drawSoon();
  }

  function reloadSoon() {
    if (reloading) return;
    reloading = true;
    setTimeout(() => load().finally(() => { reloading = false; }), 300);
  }

  let socket = null;
  function follow() {
    const active = state.data.jobs.filter((j) => dx.isActive(j.status)).map((j) => j.id);
    if (socket || !active.length || typeof io === "undefined") return;
    socket = dx.connect(active, {
      [dx.EVENTS.task || "task update"]: (msg) => {
        if (msg.update === "metric") addPoint(msg);
        else if (msg.update === "rewind") reloadSoon();
      },
      [dx.EVENTS.job || "job update"]: (msg) => {
        const j = state.data.jobs.find((x) => x.id === msg.job_id);
        if (!j || !msg.job) return;
        const was = j.status;
        j.status = msg.job.status;
        if (dx.isActive(was) && !dx.isActive(j.status)) reloadSoon();  // its wall time, last points
        else if (was !== j.status) drawSoon();
      },
    });
  }

  async function load() {
    try {
      state.data = await dx.api("GET", url);
      window.dxCompareLoads = (window.dxCompareLoads || 0) + 1;
      draw();
      follow();
    } catch (e) { $("cmp-status").textContent = e.message; }
  }

  $("cmp-metric").addEventListener("change", (e) => { state.metric = e.target.value; drawChart(); drawParallel(); });
  for (const id of ["cmp-x", "cmp-log"]) $(id).addEventListener("change", drawChart);
  $("cmp-smooth").addEventListener("input", (e) => { $("cmp-smooth-value").textContent = e.target.value; drawChart(); });
  $("cmp-table").tHead.addEventListener("click", (e) => {
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    state.sort = {key: th.dataset.sort, dir: state.sort.key === th.dataset.sort ? -state.sort.dir : 1};
    drawTable();
  });
  $("cmp-csv").addEventListener("click", csv);
  load();
})();
