/* The segmentation view: the class map the model returned, overlaid on the image in the browser
   (class 0 transparent), with contours, a legend of colour chips, hover naming a pixel's class,
   and DIGITS's settings (opacity, mask, line width, colour map) kept in localStorage. The map
   comes as a PNG with a grey palette (a 2000×2000 map is tens of kB, not 12 MB of lists): drawn
   on a canvas, each pixel's red value is its class. */
"use strict";
/* A class map PNG (base64, grey palette) → done(classes as a Uint8Array, width, height). */
dx.readClassMap = (b64, done) => {
  const png = new Image();
  png.onload = () => {
    const w = png.naturalWidth, h = png.naturalHeight, c = document.createElement("canvas");
    c.width = w; c.height = h;
    const g = c.getContext("2d", {willReadFrequently: true});
    g.drawImage(png, 0, 0);
    const rgba = g.getImageData(0, 0, w, h).data, classes = new Uint8Array(w * h);
    for (let i = 0; i < classes.length; i++) classes[i] = rgba[4 * i];
    done(classes, w, h);
  };
  png.src = "data:image/png;base64," + b64;
};
(() => {
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($("overlay-data").textContent);
  const KEY = "dx.overlay.settings";
  const defaults = {opacity: 0.3, mask: 0, lineWidth: 3, colormap: "dataset"};
  const settings = () => ({...defaults, ...JSON.parse(localStorage.getItem(KEY) || "{}")});
  const PAIRED = [[166, 206, 227], [31, 120, 180], [178, 223, 138], [51, 160, 44], [251, 154, 153], [227, 26, 28],
    [253, 191, 111], [255, 127, 0], [202, 178, 214], [106, 61, 154], [255, 255, 153], [177, 89, 40]];
  const image = $("overlay-image"), canvas = $("overlay-canvas");
  let map = new Uint8Array(0), w = 0, h = 0, hovered = -1;

  function colours(s) {
    const n = data.labels.length;
    if (s.colormap === "paired" || !data.palette) return Array.from({length: n}, (_, i) => PAIRED[(i + 11) % 12]);
    return Array.from({length: n}, (_, i) => data.palette[i] || PAIRED[i % 12]);
  }

  function draw() {
    const s = settings(), lut = colours(s);
    const scale = Math.min(4, 900 / image.naturalWidth);  // a small image drawn larger, its map kept crisp
    canvas.width = Math.round(image.naturalWidth * scale);
    canvas.height = Math.round(image.naturalHeight * scale);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    const layer = new ImageData(w, h);
    const px = layer.data;
    let drawn = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = y * w + x, c = map[at], i = 4 * at;
        const edge = s.lineWidth > 0 && ((x + 1 < w && map[at + 1] !== c) || (y + 1 < h && map[at + w] !== c));
        if (c === 0 || c >= lut.length) {  // unsegmented: dimmed by the mask
          if (s.mask > 0) { px[i + 3] = Math.round(255 * s.mask); }
          continue;
        }
        const [r, g, b] = s.colormap === "none" ? [255, 255, 255] : lut[c];
        px[i] = r; px[i + 1] = g; px[i + 2] = b;
        px[i + 3] = edge ? 255 : s.colormap === "none" ? 0 : Math.round(255 * (c === hovered ? Math.min(1, s.opacity + 0.4) : s.opacity));
        drawn++;
      }
    }
    const off = document.createElement("canvas");
    off.width = w; off.height = h;
    off.getContext("2d").putImageData(layer, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    canvas.dataset.drawn = String(drawn);
    canvas.dataset.opacity = String(s.opacity);
    const present = new Set(map);
    const note = $("model-note"), r = data.readiness;
    if (note && r) {  // only background: said in words, not as the plain photo with no legend
      const only = [...present].every((c) => c === 0 || c === 255);
      note.textContent = only ? `The model finds only background (${data.labels[0] || "class 0"}) in this image yet; ` +
        (r.validated ? `it has trained ${r.epochs} epoch${r.epochs === 1 ? "" : "s"}` +
          (r.miou != null ? ` (validation mIoU ${(100 * r.miou).toFixed(1)}%)` : "") : "it has not been validated yet") +
        ". Train longer, or start from published weights." : "";
      note.hidden = !only;
    }
    $("overlay-legend").innerHTML = data.labels.map((name, i) => i === 0 || !present.has(i) ? "" :
      `<span class="legend-item${i === hovered ? " hovered" : ""}" data-class="${i}"><span class="key" style="background:rgb(${lut[i].join(",")})"></span>${dx.esc(name || `Class #${i}`)}</span>`).join(" ");
  }

  const s0 = settings();
  $("opacity").value = s0.opacity; $("mask").value = s0.mask; $("line-width").value = s0.lineWidth; $("colormap").value = s0.colormap;
  [["opacity", "opacity"], ["mask", "mask"], ["line-width", "lineWidth"], ["colormap", "colormap"]].forEach(([id, key]) =>
    $(id).addEventListener("input", () => {
      const v = $(id).value;
      localStorage.setItem(KEY, JSON.stringify({...settings(), [key]: key === "colormap" ? v : Number(v)}));
      draw();
    }));
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const x = Math.floor((e.clientX - r.left) / r.width * w), y = Math.floor((e.clientY - r.top) / r.height * h);
    const c = y >= 0 && y < h && x >= 0 && x < w ? map[y * w + x] : -1;
    if (c === hovered) return;
    hovered = c;
    $("hovered").textContent = c < 0 ? "" : `${data.labels[c] || `Class #${c}`} (class ${c}) at ${x}, ${y}`;
    draw();
  });
  dx.readClassMap(data.class_map_png, (classes, width, height) => {
    map = classes; w = width; h = height;
    if (image.complete) draw(); else image.addEventListener("load", draw);
  });
})();
