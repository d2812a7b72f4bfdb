/* The new-dataset form: method tabs, conditional fields, live resize preview, REST submit
   with errors shown beside their fields. */
"use strict";
(() => {
  const form = document.getElementById("dataset-form");
  const $ = (id) => document.getElementById(id);
  let method = $("method").value === "textfile" ? "textfile" : "folder";

  function showMethod(m) {
    method = m;
    $("method").value = m === "archive" ? "folder" : m;
    document.querySelectorAll("[data-method]").forEach((b) => b.classList.toggle("active", b.dataset.method === m));
    document.querySelectorAll("[data-panel]").forEach((p) => { p.hidden = !p.dataset.panel.split(" ").includes(m); });
  }
  function toggles() {
    document.querySelectorAll("[data-show]").forEach((el) => { el.hidden = !$(el.dataset.show).checked; });
    document.querySelectorAll("[data-hide]").forEach((el) => { el.hidden = $(el.dataset.hide).checked; });
  }
  document.querySelectorAll("[data-method]").forEach((b) => b.addEventListener("click", () => showMethod(b.dataset.method)));
  form.addEventListener("change", toggles);

  let previewTimer = null;
  async function preview() {
    const body = new FormData();
    body.set("width", $("resize_width").value);
    body.set("height", $("resize_height").value);
    body.set("channels", $("resize_channels").value);
    body.set("resize_mode", $("resize_mode").value);
    try {
      const res = await dx.fetch("/datasets/images/resize-example", {method: "POST", body, headers: {Accept: "application/json"}});
      const data = await res.json();
      if (!res.ok) throw new Error(data.error ? data.error.message : res.statusText);
      $("resize-preview").src = data.image;
      $("preview-caption").textContent = `${data.resize_mode} to ${data.width}×${data.height}, sample 480×300 image`;
    } catch (e) { $("preview-caption").textContent = e.message; }
  }
  ["resize_width", "resize_height", "resize_channels", "resize_mode"].forEach((id) =>
    $(id).addEventListener("input", () => { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 200); }));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    document.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    const body = new FormData(form);
    if (method !== "archive") body.delete("folder_train_archive");
    else body.delete("folder_train");
    $("create").disabled = true;
    $("form-message").textContent = "Creating…";
    try {
      const res = await dx.fetch(form.action.replace(/(\.json)?$/, ".json"), {method: "POST", body, headers: {Accept: "application/json"}});
      const data = await res.json().catch(() => ({}));
      if (res.ok) { window.location = data.url || `/datasets/${data.id}`; return; }
      dx.showFormErrors(data, res, $("form-message"));
    } catch (err) { $("form-message").textContent = err.message; }
    $("create").disabled = false;
  });
  showMethod(method);
  toggles();
  preview();
})();
