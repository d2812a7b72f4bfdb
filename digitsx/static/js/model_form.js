/* The new-model form: network tabs, live LR preview, network visualisation, REST submit. */
"use strict";
(() => {
  const form = document.getElementById("model-form");
  const $ = (id) => document.getElementById(id);
  const show = (m) => {
    $("method").value = m;
    document.querySelectorAll("[data-net]").forEach((b) => b.classList.toggle("active", b.dataset.net === m));
    document.querySelectorAll("[data-netpanel]").forEach((p) => { p.hidden = p.dataset.netpanel !== m; });
  };
  document.querySelectorAll("[data-net]").forEach((b) => b.addEventListener("click", () => show(b.dataset.net)));

  let chart = null, timer = null;
  async function lrPreview() {
    const body = new FormData(form);
    try {
      const res = await dx.fetch("/models/visualize-lr", {method: "POST", body, headers: {Accept: "application/json"}});
      const data = await res.json();
      if (!res.ok) return;
      const datasets = data.data.columns.map((c) => ({label: c[0], data: c.slice(1), pointRadius: 0, borderWidth: 2}));
      const labels = datasets[0].data.map((_, i) => i);
      if (!chart) chart = new Chart($("lr-chart"), {type: "line", data: {labels, datasets},
        options: {animation: false, maintainAspectRatio: false, scales: {x: {title: {display: true, text: "% of training"}}, y: {title: {display: true, text: "learning rate"}}}}});
      else { chart.data.datasets = datasets; chart.update("none"); }
    } catch (e) { /* the next change retries */ }
  }
  form.addEventListener("input", (e) => {
    if (/^(lr_|learning_rate)/.test(e.target.name)) { clearTimeout(timer); timer = setTimeout(lrPreview, 200); }
  });
  form.addEventListener("change", (e) => { if (e.target.name === "lr_policy") lrPreview(); });

  $("visualize").addEventListener("click", async () => {
    const body = new FormData(form);
    const res = await dx.fetch("/models/images/classification/visualize-network", {method: "POST", body, headers: {Accept: "application/json"}});
    const data = await res.json();
    document.querySelector('.field-error[data-for="custom_network"]').textContent = data.errors ? data.errors.custom_network.join(" ") : (data.error ? data.error.message : "");
    if (!data.layers) return;
    $("layers").hidden = false;
    $("layers").tBodies[0].innerHTML = data.layers.map((l) => `<tr><td>${dx.esc(l.name)}</td><td>${dx.esc(l.type)}</td><td>${dx.esc((l.output || []).join("×"))}</td><td>${l.parameters.toLocaleString()}</td></tr>`).join("")
      + `<tr><th colspan="3">Total (input ${data.input.join("×")})</th><th>${data.parameters.toLocaleString()}</th></tr>`;
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    document.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    $("create").disabled = true;
    $("form-message").textContent = "Creating…";
    try {
      const res = await dx.fetch("/models/images/classification.json", {method: "POST", body: new FormData(form), headers: {Accept: "application/json"}});
      const data = await res.json().catch(() => ({}));
      if (res.ok) { window.location = data.jobs ? "/" : data.url; return; }
      dx.showFormErrors(data, res, $("form-message"));
    } catch (err) { $("form-message").textContent = err.message; }
    $("create").disabled = false;
  });
  /* The network's real size for the chosen dataset (LeNet grows with the image), the snapshot
     estimate against the disk budget, and a suggested network: chosen for the user until they
     pick one themselves (or cloned a job). */
  const fitData = JSON.parse(($("network-fit-data") || {}).textContent || "{}");
  let picked = !!fitData.chosen;
  const human = (n) => n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n.toLocaleString();
  const radios = () => [...document.querySelectorAll("input[name=standard_networks]")];
  radios().forEach((r) => r.addEventListener("change", (e) => { if (e.isTrusted) picked = true; fitted(false); }));

  function fitted(suggest) {
    const fit = (fitData.datasets || {})[$("dataset") ? $("dataset").value : ""];
    const box = $("network-fit");
    if (!fit || !box) { if (box) box.hidden = true; return; }
    for (const [name, n] of Object.entries(fit.parameters || {})) {
      const cell = document.querySelector(`[data-parameters-for="${CSS.escape(name)}"]`);
      if (cell) cell.innerHTML = n ? `<span title="${n.toLocaleString()} for ${fit.classes} classes of ${fit.size}×${fit.size}×${fit.channels}">${human(n)}</span>` : "too small";
    }
    if (suggest && !picked && fit.suggested) {
      const radio = document.getElementById(`net-${fit.suggested}`);
      if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", {bubbles: true})); }
      const w = $("weights");
      if (w && fit.weights) { w.value = fit.weights; w.dispatchEvent(new Event("change", {bubbles: true})); }
    }
    const chosen = (document.querySelector("input[name=standard_networks]:checked") || {}).value;
    const n = (fit.parameters || {})[chosen], mb = (fit.snapshot_mb || {})[chosen];
    let text = fit.why || "";
    if (chosen && chosen !== fit.suggested && n)
      text = `${chosen} for this dataset: ${n.toLocaleString()} parameters (≈ ${Math.round(mb).toLocaleString()} MB a snapshot). Suggested: ` + text;
    box.textContent = text;
    box.hidden = !text;
    box.classList.toggle("warning-box", !!(chosen && chosen !== fit.suggested && mb > 200));
    const est = $("snapshot-estimate");
    if (est && mb) {
      const epochs = +(form.elements.train_epochs || {}).value || 0, every = +(form.elements.snapshot_interval || {}).value || 1;
      const count = Math.max(1, Math.floor(epochs / every)), budget = +(form.elements.snapshot_budget_mb || {}).value || 0;
      const keep = +(form.elements.keep_snapshots || {}).value || 0;
      const total = count * mb;
      est.textContent = `≈ ${Math.round(mb).toLocaleString()} MB a snapshot, ${count} snapshots: ${Math.round(total).toLocaleString()} MB in all` +
        (keep ? `; keeping the last ${keep} and the best.` : budget && total > budget
          ? `; the ${budget.toLocaleString()} MB budget keeps about ${Math.max(1, Math.floor(budget / mb))} of them (always the last and the best).`
          : ".");
    }
  }
  if ($("dataset")) $("dataset").addEventListener("change", () => fitted(true));
  form.addEventListener("input", (e) => { if (/^(train_epochs|snapshot_interval|snapshot_budget_mb|keep_snapshots)$/.test(e.target.name)) fitted(false); });

  show($("method").value);
  lrPreview();
  window.addEventListener("DOMContentLoaded", () => fitted(true));  // after weights.js has filled its lists
})();
