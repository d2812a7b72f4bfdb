/* Wires the detection pages that are not job pages: the infer-one box view and Explore. */
"use strict";
(() => {
  if (document.getElementById("boxes-data")) dxBoxes.view();
  const explore = document.getElementById("explore-data");
  if (explore) {
    const data = JSON.parse(explore.textContent);
    document.getElementById("legend").innerHTML = dxBoxes.legend(data.labels, new Set([0]));
    dxBoxes.gallery(document.getElementById("explore-gallery"), data.images.map((item) => ({
      url: item.url, caption: `#${item.index} · ${item.boxes.length} boxes`,
      boxes: item.boxes.map((b) => ({box: b.slice(0, 4), class: b[4], ignore: b[5] === 1})),
    })));
  }
})();
