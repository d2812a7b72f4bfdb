/* The home page: GPU panel, running jobs and the job tabs, all rendered from JSON and kept
   live from the /jobs namespace (room job_management). */
"use strict";
(() => {
  const state = {
    jobs: new Map(),  // id → J
    gpu: JSON.parse(document.getElementById("initial-gpus").textContent),
    telemetry: {},
    tab: localStorage.getItem("dx.tab") || "datasets",
    sort: {key: "submitted", dir: -1},
    selected: new Set(),
    // DIGITS's "<metric> (train|val) last|min|max" columns on the Models tab, kept per browser
    columns: JSON.parse(localStorage.getItem("dx.metricColumns") || '[{"key": "loss (val)", "agg": "last"}]'),
  };
  const TAB_OF = {dataset: "datasets", model: "models", pretrained: "pretrained_models", inference: "tests"};
  const tabOf = (j) => TAB_OF[j.category] || "other";
  const $ = (id) => document.getElementById(id);

  const initial = JSON.parse(document.getElementById("initial-jobs").textContent);
  for (const key of ["running", "datasets", "models", "pretrained_models", "tests", "other"])
    for (const j of initial[key] || []) state.jobs.set(j.id, j);

  const isActive = (j) => dx.isActive(j.status);

  function jobLink(j) { return `<a href="${dx.esc(j.url)}" class="job-link">${dx.esc(j.name)}</a>`; }

  function statusCell(j) {
    let s = `<span class="status ${dx.statusClass(j.status)}">${dx.esc(j.status)}</span>`;
    if (j.status === "Waiting" && j.waiting) {
      const place = j.waiting.position ? ` — #${j.waiting.position} in queue` : "";
      s += `<div class="hint">${dx.esc(j.waiting.reason)}${place}</div>`;
    }
    if (j.status === "Error" && j.error) s += `<div class="hint error-text">${dx.esc(j.error)}</div>`;
    return s;
  }

  function renderRunning() {
    const rows = [...state.jobs.values()].filter(isActive).sort((a, b) => a.submitted - b.submitted);
    $("running-table").tBodies[0].innerHTML = rows.map((j) => `
      <tr data-id="${dx.esc(j.id)}"><td></td><td>${jobLink(j)}</td><td>${dx.esc(j.type)}</td>
      <td>${statusCell(j)}</td><td>${dx.progressBar(j)}${spark(j)}</td>
      <td>${j.eta != null ? dx.duration(j.eta) : ""}</td><td>${dx.esc(j.username)}</td></tr>`).join("");
    $("running-none").hidden = rows.length > 0;
    $("running-table").hidden = rows.length === 0;
    $("running-count").textContent = rows.length ? `(${rows.length})` : "";
  }

  /* A running model's train loss as a sparkline (the last points the server keeps). */
  function spark(j) {
    const tail = ((j.metrics || {}).loss_tail || []).filter((v) => isFinite(v));
    if (tail.length < 2) return "";
    const w = 120, h = 22, lo = Math.min(...tail), hi = Math.max(...tail), span = hi - lo || 1;
    const pts = tail.map((v, i) => `${(i * w / (tail.length - 1)).toFixed(1)},${(h - 2 - (v - lo) / span * (h - 4)).toFixed(1)}`).join(" ");
    return `<svg class="spark" width="${w}" height="${h}" aria-label="train loss, last ${tail.length} points"><title>train loss ${tail[tail.length - 1].toPrecision(3)}</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${pts}"/></svg>`;
  }

  const metricColumns = () => (state.tab === "models" ? state.columns : []);
  const metricValue = (j, c) => (((j.metrics || {}).columns || {})[c.key] || {})[c.agg];
  const fmt = (v) => (v == null ? "" : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));

  function visibleJobs() {
    const q = $("filter").value.trim().toLowerCase();
    const k = state.sort.key, dir = state.sort.dir;
    const value = (j) => {
      if (!k.startsWith("m|")) return j[k];
      const [, key, agg] = k.split("|");
      const v = metricValue(j, {key, agg});
      return v == null ? -Infinity : v;
    };
    return [...state.jobs.values()]
      .filter((j) => tabOf(j) === state.tab)
      .filter((j) => !q || [j.name, j.type, j.username, j.group, j.status, j.id].join(" ").toLowerCase().includes(q))
      .sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * dir);
  }

  function renderHead() {
    const row = $("jobs-table").tHead.rows[0];
    row.querySelectorAll("th.metric").forEach((th) => th.remove());
    for (const c of metricColumns()) {
      const th = document.createElement("th");
      th.className = "metric";
      th.dataset.sort = `m|${c.key}|${c.agg}`;
      th.textContent = `${c.key} ${c.agg}`;
      row.appendChild(th);
    }
    $("btn-columns").hidden = state.tab !== "models";
    // each tab offers its own "New …" buttons, as DIGITS's Datasets and Models tabs did
    document.querySelectorAll(".tabs a[data-category]").forEach((a) => { a.hidden = TAB_OF[a.dataset.category] !== state.tab; });
  }

  function jobRow(j) {
    const checked = state.selected.has(j.id) ? "checked" : "";
    return `<tr data-id="${dx.esc(j.id)}" class="${checked ? "selected" : ""}">
      <td><input type="checkbox" class="sel" ${checked} aria-label="select ${dx.esc(j.name)}"></td>
      <td>${jobLink(j)}${j.notes ? `<div class="hint">${dx.esc(j.notes.slice(0, 80))}</div>` : ""}</td>
      <td>${dx.esc(j.type)}</td><td>${statusCell(j)}${isActive(j) ? dx.progressBar(j) : ""}</td>
      <td>${dx.time(j.submitted)}</td><td>${dx.duration(j.elapsed)}</td><td>${dx.esc(j.username)}</td>
      ${metricColumns().map((c) => `<td class="metric">${fmt(metricValue(j, c))}</td>`).join("")}</tr>`;
  }

  const compareUrl = (ids) => "/models/compare?" + ids.map((i) => "job_id=" + encodeURIComponent(i)).join("&");

  function renderJobs() {
    renderHead();
    const rows = visibleJobs();
    let html = "";
    if ($("group-by").checked) {
      const groups = new Map();
      for (const j of rows) {
        if (!groups.has(j.group || "")) groups.set(j.group || "", []);
        groups.get(j.group || "").push(j);
      }
      const names = [...groups.keys()].sort((a, b) => (a === "") - (b === "") || a.localeCompare(b));
      for (const g of names) {
        const members = groups.get(g).map((j) => j.id);
        const all = g && state.tab === "models" && members.length > 1
          ? ` <a class="compare-group" href="${compareUrl(members)}">compare all ${members.length}</a>` : "";
        if (g || names.length > 1) html += `<tr class="group-row"><th colspan="${7 + metricColumns().length}">${g ? dx.esc(g) : "Ungrouped"}${all}</th></tr>`;
        html += groups.get(g).map(jobRow).join("");
      }
    } else html = rows.map(jobRow).join("");
    $("jobs-table").tBodies[0].innerHTML = html;
    $("jobs-none").hidden = rows.length > 0;
    const started = $("getting-started");
    if (started) started.hidden = state.jobs.size > 0;  // the first job ends the welcome
    for (const btn of document.querySelectorAll(".tabs button")) {
      const n = [...state.jobs.values()].filter((j) => tabOf(j) === btn.dataset.tab).length;
      btn.querySelector(".count").textContent = n ? `(${n})` : "";
      btn.classList.toggle("active", btn.dataset.tab === state.tab);
      if (btn.dataset.tab === "other") btn.hidden = n === 0;
    }
    for (const th of document.querySelectorAll("#jobs-table th[data-sort]"))
      th.dataset.dir = th.dataset.sort === state.sort.key ? (state.sort.dir > 0 ? "asc" : "desc") : "";
    const n = state.selected.size;
    for (const id of ["btn-abort", "btn-group", "btn-delete"]) $(id).disabled = n === 0;
    $("btn-compare").disabled = n === 0 || n > 100;
  }

  function renderGpus() {
    const g = state.gpu;
    dx.gpuBadge(g);
    $("gpu-summary").textContent = g.gpus_total ? `${g.gpus_available}/${g.gpus_total} GPUs available` : "";
    $("gpu-none").hidden = g.gpus_total > 0;
    $("gpu-table").hidden = !g.gpus_total;
    const tele = new Map((state.telemetry.gpus || []).map((s) => [s.index, s]));
    const name = (id) => { const j = state.jobs.get(id); return j ? jobLink(j) : dx.esc(id); };
    $("gpu-table").tBodies[0].innerHTML = (g.panel || []).map((p) => {
      const d = (g.devices || []).find((x) => x.index === p.index) || {};
      const t = tele.get(p.index) || {};
      return `<tr data-gpu="${p.index}"><td>#${p.index}</td><td>${dx.esc(d.name)}</td>
        <td class="holder">${p.job_id ? name(p.job_id) : '<span class="free">free</span>'}</td>
        <td class="queue">${p.queue.map(name).join(", ")}</td>
        <td>${t.utilization != null ? t.utilization + "%" : ""}</td>
        <td>${t.memory_used != null ? dx.bytes(t.memory_used) + " / " + dx.bytes(t.memory_total) : ""}</td>
        <td>${t.temperature != null ? t.temperature + " °C" : ""}</td>
        <td>${t.power != null ? t.power.toFixed(0) + " W" : ""}</td></tr>`;
    }).join("");
  }

  function render() { renderRunning(); renderJobs(); renderGpus(); }

  function message(text, isError) {
    $("action-message").textContent = text;
    $("action-message").classList.toggle("error-text", !!isError);
  }

  async function bulk(method, url, extra) {
    const ids = [...state.selected];
    try {
      const res = await dx.api(method, url, {job_ids: ids, ...extra});
      const errs = Object.entries(res.errors || {});
      message(errs.length ? errs.map(([id, m]) => `${id}: ${m}`).join("; ") : "Done.", errs.length > 0);
    } catch (e) { message(e.message, true); }
    state.selected.clear();
    renderJobs();
  }

  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
    state.tab = b.dataset.tab; localStorage.setItem("dx.tab", state.tab);
    state.selected.clear(); renderJobs();
  }));
  $("filter").addEventListener("input", renderJobs);
  $("group-by").addEventListener("change", renderJobs);
  $("jobs-table").tHead.addEventListener("click", (e) => {  // metric columns come and go: delegate
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    const k = th.dataset.sort;
    state.sort = {key: k, dir: state.sort.key === k ? -state.sort.dir : 1};
    renderJobs();
  });
  $("btn-columns").addEventListener("click", () => {
    const keys = new Set();
    for (const j of state.jobs.values()) if (tabOf(j) === "models")
      Object.keys((j.metrics || {}).columns || {}).forEach((k) => keys.add(k));
    state.columns.forEach((c) => keys.add(c.key));
    const on = (k, a) => state.columns.some((c) => c.key === k && c.agg === a);
    $("columns-choices").tBodies[0].innerHTML = [...keys].sort().map((k) => `<tr><th>${dx.esc(k)}</th>${
      ["last", "min", "max"].map((a) => `<td><input type="checkbox" data-key="${dx.esc(k)}" data-agg="${a}" ${on(k, a) ? "checked" : ""} aria-label="${dx.esc(k)} ${a}"></td>`).join("")}</tr>`).join("")
      || '<tr><td colspan="4" class="hint">No model has reported a metric yet.</td></tr>';
    $("columns-dialog").showModal();
  });
  $("columns-dialog").addEventListener("close", () => {
    if ($("columns-dialog").returnValue !== "ok") return;
    const chosen = [...$("columns-choices").querySelectorAll("input:checked")].map((i) => ({key: i.dataset.key, agg: i.dataset.agg}));
    const same = (a, b) => a.key === b.key && a.agg === b.agg;  // kept columns keep their place
    state.columns = [...state.columns.filter((c) => chosen.some((n) => same(c, n))),
                     ...chosen.filter((n) => !state.columns.some((c) => same(c, n)))];
    localStorage.setItem("dx.metricColumns", JSON.stringify(state.columns));
    renderJobs();
  });
  $("jobs-table").addEventListener("change", (e) => {
    if (!e.target.classList.contains("sel")) return;
    const id = e.target.closest("tr").dataset.id;
    if (e.target.checked) state.selected.add(id); else state.selected.delete(id);
    renderJobs();
  });
  $("select-all").addEventListener("change", (e) => {
    state.selected = new Set(e.target.checked ? visibleJobs().map((j) => j.id) : []);
    renderJobs();
  });
  $("btn-delete").addEventListener("click", async () => {
    if (await dx.confirm(`Delete ${state.selected.size} job(s) and their files?`, {ok: "Delete", danger: true}))
      bulk("DELETE", "/jobs");
  });
  $("btn-abort").addEventListener("click", () => bulk("POST", "/abort_jobs"));
  $("btn-compare").addEventListener("click", () => { location.href = compareUrl([...state.selected]); });
  $("btn-group").addEventListener("click", async () => {
    const name = await dx.prompt("Group name (blank to ungroup):", "", {ok: "Group"});
    if (name !== null) bulk("POST", "/group", {group_name: name});
  });

  dx.connect(["job_management"], {
    [dx.EVENTS.job]: (msg) => {
      if (msg.update === "deleted") { state.jobs.delete(msg.job_id); state.selected.delete(msg.job_id); }
      else if (msg.job) state.jobs.set(msg.job_id, msg.job);
      render();
    },
    [dx.EVENTS.server]: (msg) => {
      if (msg.update === "telemetry") state.telemetry = msg;
      else state.gpu = msg;
      renderGpus();
    },
    "connect": async () => {  // after a reconnect, catch up on what happened meanwhile
      try {
        const data = await dx.api("GET", "/completed_jobs.json");
        state.jobs.clear();
        for (const key of ["running", "datasets", "models", "pretrained_models", "tests", "other"])
          for (const j of data[key] || []) state.jobs.set(j.id, j);
        state.gpu = data.gpus;
        render();
      } catch (e) { /* the server is restarting; socket.io retries */ }
    },
  });
  setInterval(renderRunning, 1000);  // elapsed times and ETAs tick without server traffic
  render();
})();

// Getting started: write the demo folders on the server, then post each task's dataset form.
(function () {
  const button = document.getElementById("make-demo-datasets");
  const status = document.getElementById("demo-status");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Writing the demo images on the server…";
    try {
      let res = await dx.fetch("/demo/data", {method: "POST"});
      while (res.status === 202) {  // still being written (by this click or another): ask again
        await new Promise((done) => setTimeout(done, 1000 * Number(res.headers.get("Retry-After") || 2)));
        res = await dx.fetch("/demo/data", {method: "POST"});
      }
      const data = await res.json();
      if (!res.ok) throw new Error((data.error || {}).message || res.statusText);
      for (const d of data.datasets) {
        status.textContent = `Creating the ${d.task} dataset…`;
        const made = await dx.fetch(d.url, {method: "POST", body: new URLSearchParams(d.fields)});
        const answer = await made.json();
        if (!made.ok) throw new Error(`${d.task}: ${(answer.error || {}).message || made.statusText}`);
      }
      status.textContent = `Three datasets are building from ${data.folder}.`;
    } catch (err) {
      status.textContent = `Could not make the demo datasets: ${err.message}`;
      status.classList.add("error");
      button.disabled = false;
    }
  });
})();
