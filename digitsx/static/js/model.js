/* A model's page: the live training graph (loss, accuracy), LR graph, snapshots, validation. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const job0 = JSON.parse(document.getElementById("initial-job").textContent);
  const series = {trainLoss: [], valLoss: [], valAcc: [], trainAcc: [], lr: []};
  let chart = null, lrChart = null;

  function add(p) {
    const v = p.values;
    if (p.phase === "train") {
      if (v.loss != null) series.trainLoss.push({x: p.epoch, y: v.loss});
      if (v.accuracy != null) series.trainAcc.push({x: p.epoch, y: v.accuracy});
      if (v.learning_rate != null) series.lr.push({x: p.epoch, y: v.learning_rate});
      if (v.images_per_second) $("speed").textContent = `${Math.round(v.images_per_second)} images/s`;
    } else if (p.phase === "val") {
      if (v.loss != null) series.valLoss.push({x: p.epoch, y: v.loss});
      if (v.accuracy != null) series.valAcc.push({x: p.epoch, y: v.accuracy});
    }
  }

  function draw() {
    const ds = (label, data, color, axis, dash) => ({label, data, borderColor: color, backgroundColor: color,
      yAxisID: axis, pointRadius: 0, borderWidth: 2, borderDash: dash || [], parsing: false});
    const data = {datasets: [ds("loss (train)", series.trainLoss, "#2e86c1", "y"),
      ds("loss (val)", series.valLoss, "#c0392b", "y"),
      ds("accuracy % (val)", series.valAcc, "#76b900", "y1"),
      ds("accuracy % (train)", series.trainAcc, "#9bd35a", "y1", [4, 3])]};
    if (!chart) {
      chart = new Chart($("train-chart"), {type: "line", data, options: {animation: false, normalized: true,
        interaction: {mode: "nearest", intersect: false},
        scales: {x: {type: "linear", title: {display: true, text: "epoch"}},
                 y: {title: {display: true, text: "loss"}, beginAtZero: true},
                 y1: {position: "right", min: 0, max: 100, title: {display: true, text: "accuracy (%)"}, grid: {drawOnChartArea: false}}}}});
      lrChart = new Chart($("lr-chart"), {type: "line", data: {datasets: [ds("learning rate", series.lr, "#d68910", "y")]},
        options: {animation: false, scales: {x: {type: "linear", title: {display: true, text: "epoch"}}}}});
      zoomable(chart);
      zoomable(lrChart);
    } else { chart.update("none"); lrChart.update("none"); }  // "none": keeps the user's view
    window.dxChartPoints = series.trainLoss.length + series.valLoss.length;
  }

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
      if (Math.abs(to - from) > 0.05) {
        for (const chart of [chart0(), lrChart]) if (chart) {
          chart.options.scales.x.min = Math.min(from, to);
          chart.options.scales.x.max = Math.max(from, to);
          chart.update("none");
        }
      }
      from = null;
    });
    canvas.addEventListener("dblclick", () => {
      for (const chart of [chart0(), lrChart]) if (chart) {
        delete chart.options.scales.x.min;
        delete chart.options.scales.x.max;
        chart.update("none");
      }
    });
  }
  const chart0 = () => chart;

  async function load() {
    const data = await dx.api("GET", `${job0.url}/metrics.json`);
    for (const key of Object.keys(series)) series[key].length = 0;
    data.metrics.forEach(add);
    draw();
  }

  function details(job) {
    const m = job.model || {};
    $("snapshots").innerHTML = (job.snapshots || []).map((e) => `<li>epoch ${e} ·
      <a href="${job.url}/download.tar.gz?epoch=${e}">download</a> (<a href="${job.url}/download.zip?epoch=${e}">zip</a>)</li>`).join("")
      || '<li class="hint">none yet</li>';
    const rows = [["Network", m.network], ["Solver", m.solver && `${m.solver.type}, lr ${m.solver.learning_rate}`],
      ["LR policy", m.lr && m.lr.policy], ["Epochs", m.train_epochs], ["Batch size", m.batch_size],
      ["Image", (job["image dimensions"] || []).join("×")], ["Parameters", m.parameters && m.parameters.toLocaleString()],
      ["Note", m.note]];
    $("model-facts").innerHTML = rows.filter((r) => r[1]).map(([k, v]) => `<dt>${dx.esc(k)}</dt><dd>${dx.esc(v)}</dd>`).join("");
    const t = m.transfer;
    $("transfer-card").hidden = !t;
    if (t) {
      $("transfer-summary").textContent = `${t.loaded.length} tensors loaded, ${t.fresh.length} fresh` +
        (t.frozen ? " · loaded layers frozen" : t.lr_mult !== 1 ? ` · loaded layers at ${t.lr_mult}× the learning rate` : "");
      const li = (names) => names.map((n) => `<li><code>${dx.esc(n)}</code></li>`).join("") || '<li class="hint">none</li>';
      $("transfer-loaded").innerHTML = li(t.loaded);
      $("transfer-fresh").innerHTML = li(t.fresh);
    }
    const v = m.validation, labels = m.labels || [];
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
    if (msg.update === "metric") { add(msg); draw(); }
    else if (msg.update === "rewind") {
      for (const key of Object.keys(series)) series[key] = series[key].filter((p) => p.x <= msg.epoch);
      chart = lrChart = null;
      $("train-chart").replaceWith(Object.assign(document.createElement("canvas"), {id: "train-chart", height: 110}));
      $("lr-chart").replaceWith(Object.assign(document.createElement("canvas"), {id: "lr-chart", height: 140}));
      draw();
    }
  });
  load();
})();
