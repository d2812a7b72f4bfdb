/* Boxes on images, drawn in the browser: DIGITS's bounding-box view (a colour per class by hue
   halving, line width, fill opacity, desaturation kept in localStorage) plus a confidence
   slider and a class filter that redraw the stored outputs without asking the server again. */
"use strict";
const dxBoxes = (() => {
  const KEY = "dx.boxes.settings";
  const defaults = {lineWidth: 2, opacity: 30, desaturate: 0};
  const settings = () => ({...defaults, ...JSON.parse(localStorage.getItem(KEY) || "{}")});
  const save = (s) => localStorage.setItem(KEY, JSON.stringify(s));
  // DIGITS: hues 0, 1/2, 1/4, 3/4, 1/8, 3/8 ... for classes 1, 2, 3 ... (class 0: grey)
  function hue(i) {
    if (i <= 1) return 0;
    let n = i - 1, denom = 1;
    while (denom <= n) denom *= 2;
    return ((2 * (n - denom / 2) + 1) / denom) % 1;
  }
  const colour = (cls, alpha = 1) => cls === 0 ? `rgba(150,150,150,${alpha})` : `hsla(${Math.round(hue(cls) * 360)},90%,50%,${alpha})`;

  /* Draw `image` on `canvas` scaled to fit `maxWidth`, then every box [{box:[l,t,r,b], class, confidence?, ignore?}]. */
  function draw(canvas, image, boxes, opts = {}) {
    const s = {...settings(), ...opts};
    // at most maxWidth wide; a small image is drawn up to `upscale` times larger (crisp boxes)
    const scale = Math.min(opts.upscale || 1, (opts.maxWidth || 900) / image.naturalWidth) * (opts.scale || 1);
    canvas.width = Math.round(image.naturalWidth * scale);
    canvas.height = Math.round(image.naturalHeight * scale);
    const ctx = canvas.getContext("2d");
    ctx.filter = s.desaturate ? `grayscale(${s.desaturate}%)` : "none";
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    ctx.filter = "none";
    const k = scale / (opts.imageScale || 1);
    const lw = Math.max(1, s.lineWidth * Math.max(1, canvas.width / 600));
    for (const b of boxes) {
      const [l, t, r, bt] = b.box.map((v) => v * k);
      ctx.fillStyle = colour(b.class, s.opacity / 100);
      ctx.fillRect(l, t, r - l, bt - t);
      ctx.strokeStyle = colour(b.class);
      ctx.lineWidth = lw;
      ctx.setLineDash(b.ignore ? [4, 3] : []);
      ctx.strokeRect(l, t, r - l, bt - t);
    }
    return canvas;
  }
  const legend = (labels, present) => labels.map((name, i) => i === 0 && !present.has(0) ? "" :
    `<span class="legend-item" data-class="${i}"><span class="key" style="background:${colour(i)}"></span>${dx.esc(name)}</span>`).join(" ");

  /* The infer-one view: everything the model returned is in #boxes-data; the controls only filter. */
  function view() {
    const data = JSON.parse(document.getElementById("boxes-data").textContent);
    const $ = (id) => document.getElementById(id);
    const image = $("boxes-image"), canvas = $("boxes-canvas");
    const s = settings();
    $("line-width").value = s.lineWidth; $("fill-opacity").value = s.opacity; $("desaturate").value = s.desaturate;
    $("confidence").value = data.threshold;
    const classes = [...new Set(data.detections.map((d) => d.class))].sort((a, b) => a - b);
    $("class-filter").innerHTML = `<option value="">every class</option>` +
      classes.map((c) => `<option value="${c}">${dx.esc(data.labels[c] ?? c)}</option>`).join("");
    function redraw() {
      const min = Number($("confidence").value), only = $("class-filter").value;
      const shown = data.detections.filter((d) => d.confidence >= min && (only === "" || d.class === Number(only)));
      $("confidence-value").textContent = min.toFixed(2);
      $("found").textContent = `Found ${shown.length} bounding box${shown.length === 1 ? "" : "es"}`;
      draw(canvas, image, shown, {upscale: 4, maxWidth: 900});
      canvas.dataset.drawn = String(shown.length);
      note(shown.length, min);
      $("legend").innerHTML = legend(data.labels, new Set(shown.map((d) => d.class)));
      $("detections").tBodies[0].innerHTML = shown.map((d) => `<tr><td><span class="key" style="background:${colour(d.class)}"></span> ${dx.esc(d.label)}</td><td>${d.confidence.toFixed(3)}</td><td>${d.box.map((v) => Math.round(v)).join(", ")}</td></tr>`).join("") ||
        `<tr><td colspan="3" class="hint">none at confidence ≥ ${min.toFixed(2)}${only === "" ? "" : " in this class"}` +
        `${data.detections.length ? ` (the model found ${data.detections.length} above 0.05: lower the slider)` : ""}</td></tr>`;
    }
    /* What the picture means for a model that has not learned yet: said in words, not as
       hundreds of boxes or an empty picture. */
    function note(count, min) {
      const box = $("model-note"), r = data.readiness;
      if (!box || !r) return;
      const trained = r.validated ? `it has trained ${r.epochs} epoch${r.epochs === 1 ? "" : "s"} (validation mAP@0.5 ${(100 * r.map_50).toFixed(1)}%)` : "it has not been validated yet";
      const text = count === 0
        ? `The model finds nothing above the threshold (${min.toFixed(2)}) yet; ${trained}. Train longer, or start from published COCO weights.`
        : r.weak ? `These boxes are not reliable yet: ${trained}, F1 ${(100 * r.f1).toFixed(0)}% at its best threshold.` : "";
      box.textContent = text;
      box.hidden = !text;
    }
    ["confidence", "class-filter"].forEach((id) => $(id).addEventListener("input", redraw));
    [["line-width", "lineWidth"], ["fill-opacity", "opacity"], ["desaturate", "desaturate"]].forEach(([id, key]) =>
      $(id).addEventListener("input", () => { save({...settings(), [key]: Number($(id).value)}); redraw(); }));
    if (image.complete) redraw(); else image.addEventListener("load", redraw);
  }

  /* A grid of images with their boxes: items [{url, boxes: [[l, t, r, b, class, ignore]]}]. */
  function gallery(container, items, opts = {}) {
    container.innerHTML = "";
    for (const item of items) {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      const img = new Image();
      img.onload = () => draw(canvas, img, item.boxes, {maxWidth: opts.maxWidth || 260, imageScale: item.scale || 1});
      img.src = item.url;
      figure.appendChild(canvas);
      if (item.caption) figure.insertAdjacentHTML("beforeend", `<figcaption class="hint">${item.caption}</figcaption>`);
      container.appendChild(figure);
    }
  }
  return {draw, colour, legend, view, gallery, settings};
})();
