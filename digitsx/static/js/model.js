/* A model's page: the live training graph (every metric the job reports), LR graph, snapshots, validation. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const job0 = JSON.parse(document.getElementById("initial-job").textContent);
  /* One series per (phase, metric name) the job reports, so a task's own metrics (mAP, mIoU...)
     are charted with no change here: losses on the left axis, every other metric on the right;
     the learning rate has its own graph, the speed is shown as text. */
  let series = {};
  const hiddenSeries = new Set();  // series keys the user hid from the legend
  let chart = null, lrChart = null;
  /* Twenty colours no two alike (a detector reports eleven series); past them, golden-angle hues. */
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                   "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
                   "#31a354", "#756bb1", "#e6550d", "#636363"];
  const colour = (i) => i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360} 65% 40%)`;
  const NOT_CHARTED = new Set(["images_per_second"]);
  /* The tasks' metrics reported as fractions (0–1): drawn ×100 on the percent axis beside accuracy. */
  const FRACTIONS = new Set(["map", "map_50", "map_75", "precision", "recall", "f1", "miou"]);

  /* A zoomed graph's range at full resolution (fetched when the user zooms): drawn in place of
     the thinned points of those epochs. */
  let detail = null;  // {from, to, series}

  function add(p, into) {
    const v = p.values || {};
    if (!into && p.phase === "train" && v.images_per_second) $("speed").textContent = `${Math.round(v.images_per_second)} images/s`;
    const target = into || series;
    for (const [name, y] of Object.entries(v)) {
      if (y == null || NOT_CHARTED.has(name) || typeof y !== "number") continue;
      if (name === "learning_rate" && p.phase !== "train") continue;
      const key = name === "learning_rate" ? "lr" : `${p.phase}:${name}`;
      (target[key] = target[key] || []).push({x: p.epoch, y: FRACTIONS.has(name) ? 100 * y : y});
    }
    if (!into && detail && p.epoch >= detail.from && p.epoch <= detail.to) add(p, detail.series);
  }

  /* A series as drawn: the thinned points, with the zoomed range's full-resolution ones in place. */
  function shown(key) {
    const all = series[key] || [];
    if (!detail) return all;
    const inside = detail.series[key] || [];
    return [...all.filter((p) => p.x < detail.from), ...inside, ...all.filter((p) => p.x > detail.to)];
  }

  function datasets() {
    const ds = (label, data, color, axis, dash) => ({label, data, borderColor: color, backgroundColor: color,
      yAxisID: axis, pointRadius: 0, borderWidth: 2, borderDash: dash || [], parsing: false});
    const keys = Object.keys(series).filter((k) => k !== "lr").sort((a, b) => {
      const [pa, na] = a.split(":"), [pb, nb] = b.split(":");
      const loss = (n) => (n.includes("loss") ? 0 : 1);
      return loss(na) - loss(nb) || na.localeCompare(nb) || pa.localeCompare(pb);
    });
    return keys.map((key, i) => {
      const [phase, name] = key.split(":");
      const isLoss = name.includes("loss");
      // validation points are drawn as points too: the first one shows before there is a line
      const points = phase === "val" || series[key].length < 2 ? 3 : 0;
      const set = {...ds(`${name.replace(/_/g, " ")}${name.includes("accuracy") || FRACTIONS.has(name) ? " %" : ""} (${phase})`, shown(key),
        colour(i), isLoss ? "y" : "y1", !isLoss && phase === "train" ? [4, 3] : null),
        pointRadius: points, group: isLoss ? "Losses" : "Quality", hidden: hiddenSeries.has(key), key};
      return set;
    });
  }

  function draw() {
    const data = {datasets: datasets()};
    const lrData = {datasets: [{label: "learning rate", data: shown("lr"), borderColor: "#d68910",
      backgroundColor: "#d68910", pointRadius: (series.lr || []).length < 2 ? 3 : 0, borderWidth: 2,
      parsing: false, stepped: "after"}]};  // a step policy drops at once: draw steps, not slopes
    if (!chart) {
      chart = new Chart($("train-chart"), {type: "line", data, options: {animation: false, normalized: true,
        plugins: {legend: {display: false}},  // drawn as HTML below the graph, in two groups (legend())
        maintainAspectRatio: false,  // the .chart-box gives it a usable height at every width
        interaction: {mode: "nearest", intersect: false},
        scales: {x: {type: "linear", title: {display: true, text: "epoch"}},
                 y: {title: {display: true, text: "loss"}, beginAtZero: true},
                 y1: {position: "right", min: 0, suggestedMax: 100, title: {display: true, text: "metric (%)"}, grid: {drawOnChartArea: false}}}}});
      lrChart = new Chart($("lr-chart"), {type: "line", data: lrData,
        options: {animation: false, maintainAspectRatio: false,
                  scales: {x: {type: "linear", title: {display: true, text: "epoch"}}}}});
      zoomable(chart);
      zoomable(lrChart);
    } else {  // "none": keeps the user's view (the zoom lives in the x scale)
      chart.data.datasets = data.datasets; lrChart.data.datasets = lrData.datasets;
      chart.update("none"); lrChart.update("none");
    }
    legend();
    window.dxChartPoints = (series["train:loss"] || []).length + (series["val:loss"] || []).length;
    window.dxShownPoints = shown("train:loss").length;
    window.dxChartSeries = data.datasets.map((d) => d.label);
  }

  /* The graph's legend in two groups, losses (left axis) and quality (right axis); a click
     hides or shows a series. */
  function legend() {
    const box = $("train-legend");
    if (!box || !chart) return;
    const groups = {};
    chart.data.datasets.forEach((d, i) => (groups[d.group] = groups[d.group] || []).push([d, i]));
    const key = JSON.stringify(chart.data.datasets.map((d) => [d.label, !d.hidden]));
    if (box.dataset.key === key) return;  // unchanged: no redraw for every live point
    box.dataset.key = key;
    box.innerHTML = ["Losses", "Quality"].filter((g) => groups[g]).map((g) => `<div class="legend-group"><strong>${g}</strong> ` +
      groups[g].map(([d]) => `<button type="button" class="legend-item${d.hidden ? " off" : ""}" data-key="${dx.esc(d.key)}">` +
        `<span class="swatch" style="background:${d.borderColor}${d.borderDash && d.borderDash.length ? ";opacity:.6" : ""}"></span>${dx.esc(d.label)}</button>`).join("") + "</div>").join("");
  }
  document.addEventListener("click", (e) => {
    const item = e.target.closest("#train-legend .legend-item");
    if (!item || !chart) return;
    const key = item.dataset.key;
    if (hiddenSeries.has(key)) hiddenSeries.delete(key); else hiddenSeries.add(key);
    draw();
  });

  /* Drag across a graph to zoom into those epochs, double-click to see everything again. The
     zoom lives in the x scale's min/max, which streaming updates ("none" mode) leave alone. */
  function zoomable(c) {
    const canvas = c.canvas;
    let from = null;
    const epochAt = (e) => c.scales.x.getValueForPixel(e.offsetX);
    canvas.addEventListener("mousedown", (e) => { from = epochAt(e); });
    canvas.addEventListener("mouseup", (e) => {
      if (from === null) return;
      const to = epochAt(e);
      if (Math.abs(to - from) > 0.05) zoom(Math.min(from, to), Math.max(from, to));
      from = null;
    });
    canvas.addEventListener("dblclick", () => {
      detail = null;
      for (const chart of [chart0(), lrChart]) if (chart) {
        delete chart.options.scales.x.min;
        delete chart.options.scales.x.max;
      }
      draw();
    });
  }

  /* Zoom both graphs into [a, b], then fetch that range (at most MAX points a phase again, so
     a range of a long job comes at full resolution or close to it) and draw it in place. */
  let zoomSeq = 0;
  async function zoom(a, b) {
    for (const chart of [chart0(), lrChart]) if (chart) {
      chart.options.scales.x.min = a;
      chart.options.scales.x.max = b;
      chart.update("none");
    }
    const seq = ++zoomSeq;
    const data = await dx.api("GET", `${job0.url}/metrics.json?max_points=${MAX}&from_epoch=${a}&to_epoch=${b}`);
    if (seq !== zoomSeq || !chart0() || chart0().options.scales.x.min !== a) return;  // zoomed again, or out
    const found = {};
    data.metrics.forEach((p) => add(p, found));
    detail = {from: a, to: b, series: found};
    draw();
    window.dxZoomLoads = (window.dxZoomLoads || 0) + 1;
  }
  window.dxZoom = zoom;  // the tests' way in (a drag does the same)
  const chart0 = () => chart;

  /* The graph's points: at most MAX a phase from the server (a long job's series thinned
     there, each bucket's extremes kept; metrics.csv has every point), then live points; when
     the live points have doubled a series, it is fetched thinned again. */
  const MAX = 2000;
  let loading = false;
  async function load() {
    loading = true;
    try {
      const data = await dx.api("GET", `${job0.url}/metrics.json?max_points=${MAX}`);
      series = {};
      data.metrics.forEach((p) => add(p));
      draw();
    } finally { loading = false; }
  }
  const tooLong = () => Object.values(series).some((s) => s.length > 2 * MAX);

  let drawnSnapshots = null;
  function details(job) {
    const m = job.model || {};
    const best = ((job.result || {}).best || {}).epoch, snaps = job.snapshots || [];
    const tag = (e) => [e === best ? `<span class="status status-done">best ${dx.esc((job.result.best || {}).metric || "")}</span>` : "",
                        e === snaps[snaps.length - 1] ? '<span class="hint">last</span>' : ""].filter(Boolean).join(" ");
    // drawn again only when it changed: a download in progress keeps its note ("preparing the
    // archive…") through the job's other updates
    const list = snaps.map((e) => `<li data-epoch="${e}">epoch ${e} ${tag(e)} ·
      <a href="${job.url}/download.tar.gz?epoch=${e}" data-download>download</a> (<a href="${job.url}/download.zip?epoch=${e}" data-download>zip</a>)
      <span class="download-note hint" role="status"></span></li>`).join("")
      || '<li class="hint">none yet</li>';
    if (list !== drawnSnapshots) {  // a new snapshot: each epoch's download note moves to its new row
      const notes = {};
      $("snapshots").querySelectorAll("li[data-epoch] .download-note").forEach((n) => {
        if (n.textContent) notes[n.parentElement.dataset.epoch] = n;
      });
      $("snapshots").innerHTML = list;
      drawnSnapshots = list;
      $("snapshots").querySelectorAll("li[data-epoch]").forEach((li) => {
        if (notes[li.dataset.epoch]) li.querySelector(".download-note").replaceWith(notes[li.dataset.epoch]);
      });
    }
    const rows = [["Network", m.network], ["Solver", m.solver && `${m.solver.type}, lr ${m.solver.learning_rate}`],
      ["LR policy", m.lr && m.lr.policy], ["Epochs", m.train_epochs], ["Batch size", m.batch_size],
      ["Image", (job["image dimensions"] || []).join("×")], ["Parameters", m.parameters && m.parameters.toLocaleString()],
      ["Note", m.note]];
    $("model-facts").innerHTML = rows.filter((r) => r[1]).map(([k, v]) => `<dt>${dx.esc(k)}</dt><dd>${dx.esc(v)}</dd>`).join("");
    const t = m.transfer;
    if ($("transfer-card")) $("transfer-card").hidden = !t;
    if (t && $("transfer-card")) {
      $("transfer-summary").textContent = `${t.loaded.length} tensors loaded, ${t.fresh.length} fresh` +
        (t.frozen ? " · loaded layers frozen" : t.lr_mult !== 1 ? ` · loaded layers at ${t.lr_mult}× the learning rate` : "");
      const li = (names) => names.map((n) => `<li><code>${dx.esc(n)}</code></li>`).join("") || '<li class="hint">none</li>';
      $("transfer-loaded").innerHTML = li(t.loaded);
      $("transfer-fresh").innerHTML = li(t.fresh);
    }
    const v = m.validation, labels = m.labels || [];
    if (!$("confusion")) return;  // the rest is classification's (other tasks draw their own)
    $("validation-card").hidden = !v;
    if (v) {
      $("validation-epoch").textContent = `epoch ${v.epoch}: top-1 ${v.accuracy.toFixed(2)}%, top-5 ${v.accuracy_top5.toFixed(2)}%, loss ${v.loss.toFixed(4)}`;
      $("per-class").tBodies[0].innerHTML = v.per_class.map((a, i) => `<tr><td>${dx.esc(labels[i] ?? i)}</td><td>${a.toFixed(1)}%</td></tr>`).join("");
      if (v.confusion) {
        const max = Math.max(1, ...v.confusion.flat());
        $("confusion").innerHTML = `<tr><th></th>${labels.map((l) => `<th title="${dx.esc(l)}">${dx.esc(String(l).slice(0, 6))}</th>`).join("")}</tr>` +
          v.confusion.map((row, i) => `<tr><th>${dx.esc(labels[i] ?? i)}</th>${row.map((n, j) =>
            `<td style="background:rgba(${i === j ? "118,185,0" : "192,57,43"},${(n / max).toFixed(2)})">${n}</td>`).join("")}</tr>`).join("");
      }
    }
    const layers = m.layers || [];
    $("layers-card").hidden = !layers.length;
    $("param-count").textContent = m.parameters ? `${m.parameters.toLocaleString()} parameters` : "";
    $("layers").tBodies[0].innerHTML = layers.map((l) => `<tr><td>${dx.esc(l.name)}</td><td>${dx.esc(l.type)}</td><td>${dx.esc((l.output || []).join("×"))}</td><td>${l.parameters.toLocaleString()}</td></tr>`).join("");
  }

  window.dxJobHooks = window.dxJobHooks || [];
  window.dxJobHooks.push(details);
  window.dxTaskHooks = window.dxTaskHooks || [];
  window.dxTaskHooks.push((msg) => {
    if (msg.update === "metric") { add(msg); if (tooLong() && !loading) load(); else draw(); }
    else if (msg.update === "rewind") {
      for (const key of Object.keys(series)) series[key] = series[key].filter((p) => p.x <= msg.epoch);
      detail = null;
      chart = lrChart = null;
      $("train-chart").replaceWith(Object.assign(document.createElement("canvas"), {id: "train-chart", height: 110}));
      $("lr-chart").replaceWith(Object.assign(document.createElement("canvas"), {id: "lr-chart", height: 140}));
      draw();
    }
  });
  load();
})();
