// The model forms' "Start from published weights": the lists follow the chosen network.
(function () {
  const data = document.getElementById("weights-choices");
  if (!data) return;
  const choices = JSON.parse(data.textContent);
  const about = document.getElementById("weights-about");

  function label(w) {
    const metrics = Object.entries(w.metrics || {}).map(([k, v]) => `${k} ${v}`).join(", ");
    return `${w.name} — ${w.trained_on}${metrics ? " (" + metrics + ")" : ""}, ${w.classes} classes, ` +
      `${w.size_mb.toFixed(1)} MB${w.cached ? ", in the cache" : ""}`;
  }

  function fill(select, list, fallback) {
    if (!select) return;
    const keep = select.value || select.dataset.selected || "";
    select.replaceChildren(new Option(fallback, ""));
    for (const w of list) select.add(new Option(label(w), w.name));
    select.value = list.some((w) => w.name === keep) ? keep : "";
    select.disabled = list.length === 0;
  }

  function update() {
    const picked = document.querySelector("input[name=standard_networks]:checked");
    const c = (picked && choices[picked.value]) || { weights: [], backbone: [] };
    fill(document.getElementById("weights"), c.weights, c.weights.length ? "None: random weights" : "None published for this network");
    fill(document.getElementById("weights_backbone"), c.backbone, "None");
    if (about) about.dataset.count = c.weights.length + c.backbone.length;
  }

  document.querySelectorAll("input[name=standard_networks]").forEach((r) => r.addEventListener("change", update));
  const whole = document.getElementById("weights"), back = document.getElementById("weights_backbone");
  if (whole && back) {  // one or the other
    whole.addEventListener("change", () => { if (whole.value) back.value = ""; });
    back.addEventListener("change", () => { if (back.value) whole.value = ""; });
  }
  update();
})();
