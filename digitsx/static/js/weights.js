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
    warn();
  }

  /* Said before Create: the chosen file is not in the cache, so the job must download it. */
  function warn() {
    const box = document.getElementById("weights-not-cached");
    if (!box) return;
    const picked = document.querySelector("input[name=standard_networks]:checked");
    const c = (picked && choices[picked.value]) || { weights: [], backbone: [] };
    const name = (document.getElementById("weights") || {}).value || (document.getElementById("weights_backbone") || {}).value;
    const w = name && [...c.weights, ...c.backbone].find((x) => x.name === name);
    box.hidden = !w || w.cached;
    if (!w || w.cached) return;
    let host = "";
    try { host = new URL(w.url).host; } catch (e) { host = "the internet"; }
    box.innerHTML = `<strong>${dx.esc(w.file)}</strong> (${w.size_mb.toFixed(1)} MB) is not in this server's weights cache: ` +
      `the job downloads it from ${dx.esc(host)} when it starts. Without internet access, copy the file to ` +
      `<code>${dx.esc(w.cache_path)}</code>, or have an admin import it on ` +
      `<a href="/system#weights">System → Published weights</a>, before you create the job.`;
  }

  document.querySelectorAll("input[name=standard_networks]").forEach((r) => r.addEventListener("change", update));
  const whole = document.getElementById("weights"), back = document.getElementById("weights_backbone");
  if (whole) whole.addEventListener("change", () => { if (whole.value && back) back.value = ""; warn(); });
  if (back) back.addEventListener("change", () => { if (back.value && whole) whole.value = ""; warn(); });  // one or the other
  update();
})();
