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
  show($("method").value);
  lrPreview();
})();
