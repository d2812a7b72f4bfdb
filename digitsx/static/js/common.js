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
  if (!res.ok) {
    const msg = body && body.error ? (body.error.message || body.error) : `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body;
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
