/* Object-detection forms: fields that apply to the chosen label format or network method, and
   a REST submit with each error shown beside its field. */
"use strict";
(() => {
  const form = document.querySelector("form.rest-form");
  const $ = (id) => document.getElementById(id);
  function toggles() {
    const fmt = $("label_format");
    if (fmt) document.querySelectorAll("[data-labels]").forEach((el) => {
      el.hidden = (el.dataset.labels === "file") !== (fmt.value === "coco");
    });
    const method = form.querySelector("input[name=method]:checked");
    if (method) document.querySelectorAll("[data-method-panel]").forEach((el) => {
      el.hidden = !el.dataset.methodPanel.split(" ").includes(method.value);
    });
  }
  form.addEventListener("change", toggles);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    document.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    const body = new FormData(form);
    for (const [k, v] of [...body.entries()]) if (v instanceof File && !v.name) body.delete(k);
    document.querySelectorAll("[hidden] input, [hidden] textarea").forEach((el) => body.delete(el.name));
    $("create").disabled = true;
    $("form-message").textContent = "Creating…";
    try {
      const res = await dx.fetch(form.getAttribute("action") + ".json", {method: "POST", body, headers: {Accept: "application/json"}});
      const data = await res.json().catch(() => ({}));
      if (res.ok) { window.location = data.url || (data.jobs ? "/" : `/datasets/${data.id}`); return; }
      dx.showFormErrors(data, res, $("form-message"));
    } catch (err) { $("form-message").textContent = err.message; }
    $("create").disabled = false;
  });
  toggles();
})();
