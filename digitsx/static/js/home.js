/* The home page: GPU panel, running jobs, and the job tabs a page at a time. Each tab's page is
   filtered, sorted, counted and paged by the server (/index.json?category=…&page=…: a list
   never holds every job); live events change the rows shown in place, and a new or finished
   job brings one page again (debounced), never the whole list. */
"use strict";
(() => {
  const state = {
    rows: new Map(),  // the page shown: id → J, in the server's order
    running: new Map(),  // queued and running jobs: id → J
    gpu: JSON.parse(document.getElementById("initial-gpus").textContent),
    telemetry: {},
    tab: localStorage.getItem("dx.tab") || "datasets",
    sort: {key: "created", dir: -1},
    page: 1, pages: 1, total: 0, counts: {}, tabs: {},
    perPage: Number(localStorage.getItem("dx.perPage") || 50),
    selected: new Set(),
    // DIGITS's "<metric> (train|val) last|min|max" columns on the Models tab, kept per browser
    columns: JSON.parse(localStorage.getItem("dx.metricColumns") || '[{"key": "loss (val)", "agg": "last"}]'),
    anyJobs: !document.getElementById("getting-started") || document.getElementById("getting-started").hidden,
  };
  const CATEGORY_OF = {datasets: "dataset", models: "model", pretrained_models: "pretrained", tests: "inference", other: "other"};
  const TAB_OF = {dataset: "datasets", model: "models", pretrained: "pretrained_models", inference: "tests"};
  const tabOf = (j) => TAB_OF[j.category] || "other";
  const SERVER_SORT = {submitted: "created", name: "name", status: "status", username: "user", type: "kind",
                       main_metric: "main_metric", dataset: "dataset", network: "network"};
  const $ = (id) => document.getElementById(id);
  for (const j of JSON.parse(document.getElementById("initial-running").textContent)) state.running.set(j.id, j);
  $("per-page").value = String(state.perPage);

  const isActive = (j) => dx.isActive(j.status);

  function jobLink(j) { return `<a href="${dx.esc(j.url)}" class="job-link">${dx.esc(j.name)}</a>`; }

  function statusCell(j) {
    let s = `<span class="status ${dx.statusClass(j.status)}">${dx.esc(j.status)}</span>`;
    if (j.status === "Waiting" && j.waiting) {
      const place = j.waiting.position ? ` — #${j.waiting.position} in queue` : "";
      s += `<div class="hint">${dx.esc(j.waiting.reason)}${place}</div>`;
    }
    if (j.status === "Waiting" || j.status === "Initialized") {  // the owner (or an admin) steers it
      const level = j.priority || "normal";
      s += ` <span class="queue-move"><button type="button" class="small" data-move="up" data-id="${dx.esc(j.id)}" title="higher priority" ${level === "high" ? "disabled" : ""}>▲</button>` +
        `<button type="button" class="small" data-move="down" data-id="${dx.esc(j.id)}" title="lower priority" ${level === "low" ? "disabled" : ""}>▼</button>` +
        `${level !== "normal" ? ` <span class="hint">${dx.esc(level)}</span>` : ""}</span>`;
    }
    if (j.status === "Error" && j.error) s += `<div class="hint error-text">${dx.esc(j.error)}</div>`;
    return s;
  }

  function renderRunning() {
    const rows = [...state.running.values()].filter(isActive).sort((a, b) => a.submitted - b.submitted);
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

  const models = () => state.tab === "models";
  const metricColumns = () => (models() ? state.columns : []);
  const metricValue = (j, c) => (((j.metrics || {}).columns || {})[c.key] || {})[c.agg];
  const fmt = (v) => (v == null ? "" : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));

  /* The page's rows; a metric column sorts the page it shows (the server sorts the rest). */
  function visibleJobs() {
    const rows = [...state.rows.values()];
    const k = state.sort.key;
    if (!k.startsWith("m|")) return rows;
    const [, key, agg] = k.split("|");
    const value = (j) => { const v = metricValue(j, {key, agg}); return v == null ? -Infinity : v; };
    return rows.sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * state.sort.dir);
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
    row.querySelectorAll("th.model-col").forEach((th) => { th.hidden = !models(); });
    $("btn-columns").hidden = !models();
    // each tab offers its own "New …" buttons, as DIGITS's Datasets and Models tabs did
    document.querySelectorAll(".tabs a[data-category]").forEach((a) => { a.hidden = TAB_OF[a.dataset.category] !== state.tab; });
  }

  function jobRow(j) {
    const checked = state.selected.has(j.id) ? "checked" : "";
    const modelCells = models() ? `<td>${j.main_metric != null ? fmt(j.main_metric) : ""}</td><td>${dx.esc(j.dataset || "")}</td>
      <td>${dx.esc(j.network || "")}</td><td>${(j.tags || []).map((t) => `<span class="tag">${dx.esc(t)}</span>`).join(" ")}</td>` : "";
    return `<tr data-id="${dx.esc(j.id)}" class="${checked ? "selected" : ""}">
      <td><input type="checkbox" class="sel" ${checked} aria-label="select ${dx.esc(j.name)}"></td>
      <td>${jobLink(j)}${j.notes ? `<div class="hint">${dx.esc(j.notes.slice(0, 80))}</div>` : ""}</td>
      <td>${dx.esc(j.type)}</td><td>${statusCell(j)}${isActive(j) ? dx.progressBar(j) : ""}</td>
      <td>${dx.time(j.submitted)}</td><td>${dx.duration(j.elapsed)}</td><td>${dx.esc(j.username)}</td>${modelCells}
      ${metricColumns().map((c) => `<td class="metric">${fmt(metricValue(j, c))}</td>`).join("")}</tr>`;
  }

  const compareUrl = (ids) => "/models/compare?" + ids.map((i) => "job_id=" + encodeURIComponent(i)).join("&");
  const width = () => 7 + (models() ? 4 : 0) + metricColumns().length;

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
        const all = g && models()
          ? ` <a class="compare-group" href="/models/compare/group?group=${encodeURIComponent(g)}">compare all</a>` : "";
        if (g || names.length > 1) html += `<tr class="group-row"><th colspan="${width()}">${g ? dx.esc(g) : "Ungrouped"}${all}</th></tr>`;
        html += groups.get(g).map(jobRow).join("");
      }
    } else html = rows.map(jobRow).join("");
    $("jobs-table").tBodies[0].innerHTML = html;
    $("jobs-none").hidden = rows.length > 0;
    const started = $("getting-started");
    if (started) started.hidden = state.anyJobs;  // the first job ends the welcome
    for (const btn of document.querySelectorAll(".tabs button")) {
      const n = state.tabs[CATEGORY_OF[btn.dataset.tab]] || 0;
      btn.querySelector(".count").textContent = n ? `(${n})` : "";
      btn.classList.toggle("active", btn.dataset.tab === state.tab);
      if (btn.dataset.tab === "other") btn.hidden = n === 0;
    }
    for (const th of document.querySelectorAll("#jobs-table th[data-sort]")) {
      const key = SERVER_SORT[th.dataset.sort] || th.dataset.sort;
      th.dataset.dir = key === state.sort.key ? (state.sort.dir > 0 ? "asc" : "desc") : "";
    }
    $("page-info").textContent = `page ${state.page} of ${state.pages} · ${state.total} job${state.total === 1 ? "" : "s"}`;
    $("page-prev").disabled = state.page <= 1;
    $("page-next").disabled = state.page >= state.pages;
    $("pager").hidden = state.total <= state.perPage && state.page === 1;
    $("status-counts").textContent = Object.entries(state.counts).map(([s, n]) => `${s} ${n}`).join(" · ");
    const n = state.selected.size;
    for (const id of ["btn-abort", "btn-group", "btn-delete"]) $(id).disabled = n === 0;
    $("btn-compare").disabled = n === 0 || n > 100;
  }

  /* Replace one row in place (a live update of a job on the page). */
  function renderRow(j) {
    const tr = $("jobs-table").querySelector(`tbody tr[data-id="${CSS.escape(j.id)}"]`);
    if (!tr) return renderJobs();
    tr.outerHTML = jobRow(j);
  }

  function renderGpus() {
    const g = state.gpu;
    dx.gpuBadge(g);
    $("gpu-summary").textContent = g.gpus_total ? `${g.gpus_available}/${g.gpus_total} GPUs available` : "";
    $("gpu-none").hidden = g.gpus_total > 0;
    $("gpu-table").hidden = !g.gpus_total;
    const tele = new Map((state.telemetry.gpus || []).map((s) => [s.index, s]));
    const name = (id) => { const j = state.running.get(id) || state.rows.get(id); return j ? jobLink(j) : dx.esc(id); };
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

  /* The tab's page from the server: filtered, sorted, counted and paged there. */
  let fetching = 0;
  async function fetchPage() {
    const mine = ++fetching;
    const params = new URLSearchParams({category: CATEGORY_OF[state.tab], page: state.page, per_page: state.perPage,
                                        sort: state.sort.key.startsWith("m|") ? "created" : state.sort.key,
                                        order: state.sort.dir > 0 ? "asc" : "desc", tabs: 1});
    const q = $("filter").value.trim(), status = $("status-filter").value, tag = $("tag-filter").value.trim();
    if (q) params.set("q", q);
    if (status) params.set("status", status);
    if (tag) params.set("tag", tag);
    try {
      const data = await dx.api("GET", "/index.json?" + params);
      if (mine !== fetching) return;  // a newer request answers
      if (data.page > data.pages && data.pages >= 1 && state.page !== data.pages) { state.page = data.pages; return fetchPage(); }
      state.rows = new Map(data.jobs.map((j) => [j.id, j]));
      Object.assign(state, {total: data.total, pages: data.pages, counts: data.counts, tabs: data.tabs || state.tabs});
      if (data.total) state.anyJobs = true;
      renderJobs();
      window.dxHomeFetches = (window.dxHomeFetches || 0) + 1;
    } catch (e) { message(e.message, true); }
  }
  let refetchTimer = null;
  const refetchSoon = () => { clearTimeout(refetchTimer); refetchTimer = setTimeout(fetchPage, 400); };
  let typing = null;
  const refilter = () => { clearTimeout(typing); typing = setTimeout(() => { state.page = 1; fetchPage(); }, 200); };

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
    state.selected.clear(); state.page = 1; state.rows = new Map(); renderJobs(); fetchPage();
  }));
  $("filter").addEventListener("input", refilter);
  $("tag-filter").addEventListener("input", refilter);
  $("status-filter").addEventListener("change", refilter);
  $("group-by").addEventListener("change", renderJobs);
  $("running-table").addEventListener("click", async (e) => {  // ▲ ▼ on a waiting job
    const b = e.target.closest("button[data-move]");
    if (!b) return;
    try {
      // its new priority from the answer; its place in the queue comes with the scheduler's
      // event, which may arrive before this answer (the answer's place is the old one)
      const {waiting, ...job} = await dx.api("POST", `/jobs/${b.dataset.id}/priority`, {move: b.dataset.move});
      state.running.set(job.id, {...state.running.get(job.id), ...job});
      renderRunning();
    } catch (err) { message(err.message, true); }
  });
  $("page-prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); fetchPage(); });
  $("page-next").addEventListener("click", () => { state.page = Math.min(state.pages, state.page + 1); fetchPage(); });
  $("per-page").addEventListener("change", (e) => {
    state.perPage = Number(e.target.value); localStorage.setItem("dx.perPage", e.target.value); state.page = 1; fetchPage();
  });
  $("jobs-table").tHead.addEventListener("click", (e) => {  // metric columns come and go: delegate
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    const k = SERVER_SORT[th.dataset.sort] || th.dataset.sort;
    state.sort = {key: k, dir: state.sort.key === k ? -state.sort.dir : (k === "created" || k === "main_metric" ? -1 : 1)};
    if (k.startsWith("m|")) renderJobs(); else { state.page = 1; fetchPage(); }
  });
  $("btn-columns").addEventListener("click", () => {
    const keys = new Set();
    for (const j of state.rows.values()) Object.keys((j.metrics || {}).columns || {}).forEach((k) => keys.add(k));
    state.columns.forEach((c) => keys.add(c.key));
    const on = (k, a) => state.columns.some((c) => c.key === k && c.agg === a);
    $("columns-choices").tBodies[0].innerHTML = [...keys].sort().map((k) => `<tr><th>${dx.esc(k)}</th>${
      ["last", "min", "max"].map((a) => `<td><input type="checkbox" data-key="${dx.esc(k)}" data-agg="${a}" ${on(k, a) ? "checked" : ""} aria-label="${dx.esc(k)} ${a}"></td>`).join("")}</tr>`).join("")
      || '<tr><td colspan="4" class="hint">No model on this page has reported a metric yet.</td></tr>';
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
    const tr = e.target.closest("tr");
    if (e.target.checked) state.selected.add(tr.dataset.id); else state.selected.delete(tr.dataset.id);
    tr.classList.toggle("selected", e.target.checked);
    const n = state.selected.size;
    for (const id of ["btn-abort", "btn-group", "btn-delete"]) $(id).disabled = n === 0;
    $("btn-compare").disabled = n === 0 || n > 100;
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
      if (msg.update === "deleted") {
        state.running.delete(msg.job_id); state.selected.delete(msg.job_id);
        if (state.rows.delete(msg.job_id)) {
          const tr = $("jobs-table").querySelector(`tbody tr[data-id="${CSS.escape(msg.job_id)}"]`);
          if (tr) tr.remove();
        }
        renderRunning();
        refetchSoon();  // one page again, once the burst is over (a thousand deletes: one fetch)
        return;
      }
      const j = msg.job;
      if (!j) return;
      state.anyJobs = true;
      if (isActive(j)) state.running.set(j.id, j); else state.running.delete(j.id);
      renderRunning();
      if (state.rows.has(j.id)) {  // a row shown: changed in place (regrouped when its group changed)
        const before = state.rows.get(j.id);
        state.rows.set(j.id, j);
        if ((before.group || "") !== (j.group || "") && $("group-by").checked) renderJobs(); else renderRow(j);
      }
      if (msg.update === "added" || msg.update === "status") refetchSoon();  // counts, order, a new row
    },
    [dx.EVENTS.server]: (msg) => {
      if (msg.update === "telemetry") state.telemetry = msg;
      else state.gpu = msg;
      renderGpus();
    },
    "connect": async () => {  // after a reconnect, catch up on what happened meanwhile
      try {
        const data = await dx.api("GET", "/index.json?status=" + encodeURIComponent((dx.config.active || []).join(",")) + "&per_page=500&order=asc");
        state.running = new Map(data.jobs.map((j) => [j.id, j]));
        renderRunning();
        fetchPage();
      } catch (e) { /* the server is restarting; socket.io retries */ }
    },
  });
  setInterval(renderRunning, 1000);  // elapsed times and ETAs tick without server traffic
  render();
  fetchPage();
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
      if (res.status === 401) {  // not logged in: say where to, in the page's words
        status.textContent = "Log in first: pick a name in the box at the top of the page (Start), then click again.";
        status.classList.add("error");
        button.disabled = false;
        const prompt = document.getElementById("prompt-username");
        if (prompt) prompt.focus();
        return;
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
