/* Helpers every page uses: formatting, REST calls, the /jobs Socket.IO connection. */
"use strict";
const dx = {};

dx.esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
  ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

dx.duration = (sec) => {
  if (sec == null || !isFinite(sec)) return "";
  sec = Math.max(0, Math.round(sec));
  const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600),
        m = Math.floor(sec % 3600 / 60), s = sec % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
};

dx.time = (ts) => ts ? new Date(ts * 1000).toLocaleString() : "";
dx.bytes = (n) => n == null ? "" : n >= 2 ** 30 ? (n / 2 ** 30).toFixed(1) + " GiB"
  : n >= 2 ** 20 ? (n / 2 ** 20).toFixed(1) + " MiB" : (n / 1024).toFixed(0) + " KiB";
dx.pct = (p) => `${Math.round((p || 0) * 100)}%`;

/* The CSRF token every state-changing request carries (the server refuses one without it). */
dx.csrfToken = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

/* fetch() with the CSRF header; the answer as it comes. */
dx.fetch = (url, opts = {}) => fetch(url, {...opts, headers: {
  "Accept": "application/json", ...(opts.headers || {}), "X-CSRFToken": dx.csrfToken()}});

dx.api = async (method, url, data) => {
  const opts = {method, headers: {"Accept": "application/json", "X-CSRFToken": dx.csrfToken()}};
  if (data !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(data);
  }
  const res = await fetch(url, opts);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new Error(dx.errorText(body, res));
  return body;
};

/* The server's reason in words: {"error": {"message"}}, or {"errors": {field or job id: [...]}}
   (form fields; a bulk action's per-job reasons); the bare status only when it gave none. */
dx.errorText = (body, res) => {
  if (body && body.errors && typeof body.errors === "object" && Object.keys(body.errors).length) {
    return Object.entries(body.errors).map(([key, msgs]) =>
      `${key}: ${Array.isArray(msgs) ? msgs.join("; ") : msgs}`).join("\n");
  }
  if (body && body.error) return body.error.message || String(body.error);
  return `${res.status} ${res.statusText}`;
};

/* What the server tells every page (digitsx/events.py client_config): event names, active statuses. */
dx.config = JSON.parse((document.getElementById("dx-config") || {}).textContent || "{}");
dx.EVENTS = dx.config.events || {};
dx.isActive = (status) => (dx.config.active || []).includes(status);

dx.statusClass = (status) => "status-" + String(status || "").toLowerCase();

dx.progressBar = (job) => {
  const pct = Math.round((job.progress || 0) * 100);
  return `<div class="progress" title="${pct}%"><div class="bar ${dx.statusClass(job.status)}" style="width:${pct}%"></div><span>${pct}%</span></div>`;
};

/* One connection to the /jobs namespace; rooms are re-joined after every reconnect. */
dx.connect = (rooms, handlers) => {
  const socket = io(dx.config.namespace || "/jobs", {transports: ["websocket", "polling"]});
  socket.on("connect", () => rooms.forEach((room) => socket.emit(dx.EVENTS.join || "join", {room})));
  for (const [name, fn] of Object.entries(handlers)) socket.on(name, fn);
  dx.socket = socket;
  return socket;
};

dx.gpuBadge = (gpu) => {
  const el = document.getElementById("gpu-badge");
  if (!el || !gpu) return;
  el.textContent = gpu.gpus_total ? `${gpu.gpus_available}/${gpu.gpus_total} GPUs available` : "CPU only (0 GPUs)";
};

/* Every page shows how many GPUs are free; the home page keeps it live itself. */
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("gpu-badge");
  if (el && el.textContent.trim() === "…") dx.api("GET", "/gpus.json").then(dx.gpuBadge).catch(() => {});
});

/* In-page dialogs instead of the browser's confirm()/prompt(): styled like the page, keyboard
   friendly (Enter confirms, Escape cancels), and testable. Both answer a Promise:
   dx.confirm → true/false, dx.prompt → the text, or null when cancelled. */
dx.dialog = (message, {input = null, ok = "OK", danger = false} = {}) => new Promise((resolve) => {
  const dlg = document.createElement("dialog");
  dlg.className = "dx-dialog";
  dlg.innerHTML = `<form method="dialog"><p class="dialog-message"></p>
    ${input !== null ? '<input type="text" class="dialog-input" autocomplete="off">' : ""}
    <div class="dialog-buttons"><button value="ok" type="submit" class="dialog-ok ${danger ? "danger" : "primary"}">${dx.esc(ok)}</button>
    <button value="cancel" type="submit" class="dialog-cancel">Cancel</button></div></form>`;  // OK first: Enter confirms
  dlg.querySelector(".dialog-message").textContent = message;
  const field = dlg.querySelector(".dialog-input");
  if (field) field.value = input;
  document.body.appendChild(dlg);
  dlg.addEventListener("close", () => {
    const yes = dlg.returnValue === "ok";
    dlg.remove();
    resolve(input !== null ? (yes ? field.value : null) : yes);
  });
  dlg.showModal();
  (field || dlg.querySelector(".dialog-ok")).focus();
});
dx.confirm = (message, opts = {}) => dx.dialog(message, opts);
dx.prompt = (message, value = "", opts = {}) => dx.dialog(message, {...opts, input: value});

/* Light or dark: the system's choice (prefers-color-scheme) unless the toggle picked one; the
   choice is kept in localStorage and applied before the page paints (base.html's head). */
dx.theme = () => document.documentElement.dataset.theme ||
  (window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
dx.cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
dx.styleCharts = () => {  // chart text and grid lines follow the theme
  if (!window.Chart) return;
  Chart.defaults.color = dx.cssVar("--muted") || "#666";
  Chart.defaults.borderColor = dx.cssVar("--line") || "#ddd";
  for (const chart of Object.values(Chart.instances || {})) chart.update("none");
};
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.getElementById("theme-toggle");
  const label = () => { if (toggle) toggle.textContent = dx.theme() === "dark" ? "☀ Light" : "☾ Dark"; };
  label();
  dx.styleCharts();
  if (toggle) toggle.addEventListener("click", () => {
    const next = dx.theme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("dx.theme", next);
    label();
    dx.styleCharts();
  });
});

/* Forms marked data-check-first (a one-image test) post to their JSON twin first with
   check_only (everything is checked, nothing inferred): an error appears beside the form, in
   words, and the page stays; only a request the server accepts is then submitted for its
   result page, which runs the model once. */
document.addEventListener("submit", async (e) => {
  const form = e.target;
  if (!form.matches("form[data-check-first]")) return;
  e.preventDefault();
  let box = form.querySelector(".form-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "form-error error-text";
    box.setAttribute("role", "alert");
    form.appendChild(box);
  }
  box.textContent = "";
  const body = new FormData(form);
  body.set("check_only", "1");  // the server checks the request without running the model
  const res = await dx.fetch(form.action.replace(/\.json$/, "") + ".json", {method: "POST", body});
  if (res.ok) { form.submit(); return; }  // submit() fires no submit event: no second check
  let answer = null;
  try { answer = await res.json(); } catch (err) { answer = null; }
  box.textContent = dx.errorText(answer, res);
});

/* A result page shown after a POST keeps its form page's URL: a reload does not post again. */
document.addEventListener("DOMContentLoaded", () => {
  const keep = document.querySelector("[data-form-url]");
  if (keep && window.history && history.replaceState) history.replaceState(null, "", keep.dataset.formUrl);
});

/* A refused form: each field's error under its field, once; by the button only what has no
   field on the page (or a word that the marked fields need fixing). */
dx.showFormErrors = (data, res, messageEl) => {
  const unplaced = [];
  for (const [name, msgs] of Object.entries((data && data.errors) || {})) {
    // "search_space.learning_rate": shown under search_space
    const el = document.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`) ||
      document.querySelector(`.field-error[data-for="${CSS.escape(name.split(".")[0])}"]`);
    const text = Array.isArray(msgs) ? msgs.join(" ") : String(msgs);
    if (el && !el.closest("[hidden]")) el.textContent = (el.textContent ? el.textContent + " " : "") + text;
    else unplaced.push(`${name}: ${text}`);
  }
  messageEl.textContent = unplaced.length ? unplaced.join("; ")
    : data && data.errors ? "Please correct the fields marked above."
    : dx.errorText(data, res);
  messageEl.classList.add("error-text");
  if (res.status === 401) messageEl.innerHTML += ' — <a href="/login?next=' + encodeURIComponent(location.pathname) + '">log in</a>';
};

/* Forms show only the fields that apply: an LR policy's own parameters ([data-policies]), the
   fields behind a checkbox ([data-when-checked=NAME]), those of some values of a select
   ([data-when="NAME=V1 V2"]). Hidden fields keep their values. */
dx.applicable = (form) => {
  const policy = form.querySelector("[name=lr_policy]");
  form.querySelectorAll("[data-policies]").forEach((el) => {
    el.hidden = !policy || !el.dataset.policies.split(" ").includes(policy.value);
  });
  form.querySelectorAll("[data-when-checked]").forEach((el) => {
    const box = form.querySelector(`[name="${el.dataset.whenChecked}"]`);
    el.hidden = !(box && box.checked);
  });
  form.querySelectorAll("[data-when]").forEach((el) => {
    const [name, values] = el.dataset.when.split("=");
    const field = form.querySelector(`[name="${name}"]`);
    el.hidden = !(field && values.split(" ").includes(field.value));
  });
};
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form").forEach((form) => {
    if (!form.querySelector("[data-policies], [data-when-checked], [data-when]")) return;
    dx.applicable(form);
    form.addEventListener("change", () => dx.applicable(form));
  });
});

/* Download links ([data-download]): the first download of a snapshot builds its exports
   (TorchScript and ONNX, each checked against PyTorch) off the request and can take a while:
   the server answers 202 with the export's status, which is polled (step, progress) until the
   archive is ready; then it is fetched and saved; an error (an export that failed) appears
   beside the link. */
document.addEventListener("click", async (e) => {
  const link = e.target.closest("a[data-download]");
  if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  const note = link.parentElement.querySelector(".download-note") || link;
  const started = Date.now();
  note.classList.remove("error-text");
  let step = "building and checking the exports the first time";
  const tick = () => { note.textContent = `preparing the archive (${step})… ${Math.round((Date.now() - started) / 1000)} s`; };
  tick();
  const timer = setInterval(tick, 1000);
  try {
    let res = await dx.fetch(link.href);
    while (res.status === 202) {  // the export runs on the server: follow it, then fetch again
      const status = await res.json();
      let now = status;
      while (now.status === "preparing") {
        step = `${now.step || "working"}, ${Math.round(100 * (now.progress || 0))} %`;
        tick();
        await new Promise((done) => setTimeout(done, 1000));
        const polled = await dx.fetch(status.status_url);
        if (!polled.ok) { res = polled; break; }
        now = await polled.json();
      }
      if (!res.ok && res.status !== 202) break;
      res = await dx.fetch(link.href);
    }
    if (!res.ok) {
      let body = null;
      try { body = await res.json(); } catch (err) { body = null; }
      throw new Error(dx.errorText(body, res));
    }
    const blob = await res.blob();
    const name = ((res.headers.get("Content-Disposition") || "").match(/filename="?([^";]+)"?/) || [])[1] || "download";
    const save = document.createElement("a");
    save.href = URL.createObjectURL(blob);
    save.download = name;
    document.body.appendChild(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(save.href), 60000);
    note.textContent = `${name} (${dx.bytes(blob.size)})`;
  } catch (err) {
    note.textContent = err.message;
    note.classList.add("error-text");
  } finally {
    clearInterval(timer);
  }
});

/* A model form's dataset picker: the chosen dataset in a line under it (images per split,
   classes, size), from its option's data-summary. */
(() => {
  const show = () => {
    const picker = document.getElementById("dataset");
    const line = document.getElementById("dataset-summary");
    if (!picker || !line || !picker.selectedOptions) return;
    const opt = picker.selectedOptions[0];
    line.textContent = opt ? opt.dataset.summary || "" : "";
  };
  document.addEventListener("DOMContentLoaded", show);
  document.addEventListener("change", (e) => { if (e.target && e.target.id === "dataset") show(); });
})();

/* A parallel-coordinates plot in ``svg``: ``axes`` [{label, values}] (one value per line, null
   for none), ``lines`` [{id, name, color}]; numbers scaled per axis, categories spread evenly. */
dx.parallelCoordinates = (svg, axes, lines) => {
  const width = svg.clientWidth || 800, height = 260, pad = 40, top = 24, bottom = 30;
  const x = (k) => pad + k * (width - 2 * pad) / Math.max(1, axes.length - 1);
  const scale = (vals) => {
    const f = vals.filter((v) => v != null);
    if (f.some((v) => typeof v !== "number")) {  // categories: evenly spaced, in first-seen order
      const cats = [...new Set(f.map(String))];
      return (v) => v == null ? null : top + (height - top - bottom) * (cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1));
    }
    const lo = Math.min(...f), hi = Math.max(...f);
    return (v) => v == null ? null : top + (height - top - bottom) * (1 - (hi === lo ? 0.5 : (v - lo) / (hi - lo)));
  };
  const scales = axes.map((a) => scale(a.values));
  let out = axes.map((a, k) => `<line x1="${x(k)}" x2="${x(k)}" y1="${top}" y2="${height - bottom}" stroke="currentColor" stroke-opacity="0.4"/>
    <text x="${x(k)}" y="${height - 8}" text-anchor="middle" font-size="11" fill="currentColor">${dx.esc(a.label)}</text>`).join("");
  out += lines.map((line, i) => {
    const pts = axes.map((a, k) => { const y = scales[k](a.values[i]); return y == null ? null : `${x(k).toFixed(1)},${y.toFixed(1)}`; }).filter(Boolean);
    return `<polyline class="pc-line" data-id="${dx.esc(line.id)}" fill="none" stroke="${line.color}" stroke-width="1.5" points="${pts.join(" ")}"><title>${dx.esc(line.name)}</title></polyline>`;
  }).join("");
  svg.innerHTML = out;
};

/* Forms marked data-inline post over fetch: a mistake is shown in place, in the form (not as an
   error page with only a link home); success goes where the answer points (a new job's page),
   or reloads the page (data-inline="reload"). */
document.addEventListener("submit", async (e) => {
  const form = e.target.closest && e.target.closest("form[data-inline]");
  if (!form || e.defaultPrevented) return;
  e.preventDefault();
  let box = form.querySelector(".inline-error");
  if (!box) {
    box = Object.assign(document.createElement("p"), {className: "inline-error", role: "alert"});
    box.setAttribute("role", "alert");
    form.appendChild(box);
  }
  box.textContent = "";
  box.classList.remove("error-box");
  form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
  const button = form.querySelector("[type=submit]");
  if (button) button.disabled = true;
  try {
    const res = await fetch(form.action, {method: "POST", body: new FormData(form),
                                          headers: {"Accept": "application/json", "X-CSRFToken": dx.csrfToken()}});
    let data = null;
    try { data = await res.json(); } catch (err) { data = null; }
    if (res.ok) {
      const next = form.dataset.inline === "reload" ? null : (data && ((data.job && data.job.url) || data.url));
      if (next) window.location = next; else window.location.reload();
      return;
    }
    dx.showFormErrors(data, res, box);
    box.classList.add("error-box");
  } catch (err) {
    box.textContent = err.message;
    box.classList.add("error-box");
  }
  if (button) button.disabled = false;
});
