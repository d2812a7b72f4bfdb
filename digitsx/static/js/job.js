/* A job's page: status, timeline, progress, log tail, actions; live from the job's room. */
"use strict";
(() => {
  let job = JSON.parse(document.getElementById("initial-job").textContent);
  let drawnStatus = job.status;  // the status the server drew the page's parts at (refreshDrawn)
  const LOG_LINES = Math.max(40, (job.log || []).length);
  const $ = (id) => document.getElementById(id);
  const message = (text, isError) => {
    $("job-message").textContent = text;
    $("job-message").classList.toggle("error-text", !!isError);
  };

  function renderTimeline() {
    const h = job.status_history || [];
    $("timeline").tBodies[0].innerHTML = h.map(([status, ts, note], i) => {
      const end = i + 1 < h.length ? h[i + 1][1] : (dx.isActive(status) ? Date.now() / 1000 : null);
      return `<tr><td><span class="status ${dx.statusClass(status)}">${dx.esc(status)}</span></td>
        <td>${dx.time(ts)}</td><td>${end ? dx.duration(end - ts) : ""}</td><td>${dx.esc(note)}</td></tr>`;
    }).join("");
  }

  function render() {
    if (job.status === "Done" && drawnStatus !== "Done") {  // whichever event said so first
      drawnStatus = job.status;
      refreshDrawn();
    }
    document.title = `${job.name} · digitsx`;
    const st = $("job-status");
    st.textContent = job.status;
    st.className = "status " + dx.statusClass(job.status);
    $("job-waiting").textContent = job.status === "Waiting" && job.waiting
      ? job.waiting.reason + (job.waiting.position ? ` (#${job.waiting.position} in queue)` : "") : "";
    $("job-progress").innerHTML = dx.progressBar(job);
    $("job-eta").textContent = job.eta != null ? dx.duration(job.eta) : (job.status === "Running" ? "estimating…" : "");
    $("job-device").textContent = job.gpus && job.gpus.length ? `GPU ${job.gpus.join(", ")}` : (job.status === "Running" ? "CPU" : "");
    $("job-group").textContent = job.group || "—";
    // a finished job has no ETA, no device in use and no worker: those rows go, not blank
    const active = dx.isActive(job.status);
    const show = (cls, on) => document.querySelectorAll("." + cls).forEach((el) => { el.hidden = !on; });
    show("fact-eta", active && !!$("job-eta").textContent);
    show("fact-device", !!$("job-device").textContent);
    show("fact-process", job.status === "Running");
    // what needs a finished dataset, or a model's first snapshot, shows once there is one
    document.querySelectorAll("[data-when-done]").forEach((el) => { el.hidden = job.status !== "Done"; });
    const snapshots = job.snapshots || (job.result || {}).snapshots || [];
    document.querySelectorAll("[data-when-snapshot]").forEach((el) => { el.hidden = !snapshots.length; });
    $("job-error").hidden = !job.error;
    // a path of this server's pages in the error ("(/system#weights)") becomes a link to it
    $("job-error").innerHTML = dx.esc(job.error || "").replace(/\((\/system#[a-z-]+)\)/g,
      (_, path) => `(<a href="${path}" class="error-link">${path}</a>)`);
    $("btn-abort").hidden = !dx.isActive(job.status);
    $("btn-resume").hidden = !job.resumable;
    const rel = [];
    if (job.parent) rel.push(`Parent: <a href="${dx.esc(job.parent.url)}">${dx.esc(job.parent.name)}</a> (${dx.esc(job.parent.status)})`);
    for (const l of job.lineage || []) rel.push(`${dx.esc(l.relation)}: <a href="${dx.esc(l.url)}">${dx.esc(l.name)}</a> (${dx.esc(l.status)})`);
    for (const c of job.children || []) rel.push(`Used by: <a href="${dx.esc(c.url)}">${dx.esc(c.name)}</a> (${dx.esc(c.status)})`);
    $("related").innerHTML = rel.length ? rel.map((r) => `<li>${r}</li>`).join("") : "<li class='hint'>none</li>";
    renderTimeline();
    renderUtilization();
  }

  /* The kept utilisation series (a point every few seconds, from the job's JSON). */
  let utilChart = null;
  function renderUtilization() {
    const points = job.telemetry || [];
    $("utilization-card").hidden = !points.length;
    if (!points.length || !window.Chart) return;
    const one = points.length < 2;  // a job too short for a line: say its one sample
    $("utilization-box").hidden = one;
    $("utilization-one").hidden = !one;
    if (one) {
      const p = points[0], gpus = (p.gpus || []).map((g) => `, GPU ${g.index} ${g.util} %`).join("");
      $("utilization-one").textContent = `One sample (the job ended before a second): CPU ${Math.round(p.cpu)} %${gpus}` +
        (p.rss ? `, memory ${Math.round(p.rss / 2 ** 20)} MiB` : "") + ".";
      window.dxUtilizationPoints = 1;
      return;
    }
    const t0 = points[0].t, x = (p) => (p.t - t0) / 60;
    // A cluster job's points carry their node: one CPU series (and GPU series) per node.
    const nodes = [...new Set(points.map((p) => p.node || ""))];
    const datasets = [];
    for (const node of nodes) {
      const mine = points.filter((p) => (p.node || "") === node), at = node ? ` (${node})` : "";
      datasets.push({label: `CPU %${at}`, data: mine.map((p) => ({x: x(p), y: p.cpu})), borderWidth: 1.5});
      const gpus = [...new Set(mine.flatMap((p) => (p.gpus || []).map((g) => g.index)))];
      for (const i of gpus) {
        datasets.push({label: `GPU ${i} %${at}`, borderWidth: 1.5, data: mine.map((p) => {
          const g = (p.gpus || []).find((d) => d.index === i);
          return {x: x(p), y: g ? g.util : null};
        })});
      }
    }
    window.dxUtilizationNodes = nodes.filter(Boolean);
    window.dxUtilizationPoints = points.length;
    if (utilChart) { utilChart.data.datasets = datasets; utilChart.update("none"); return; }
    utilChart = new Chart($("utilization-chart"), {type: "line", data: {datasets}, options: {
      animation: false, maintainAspectRatio: false, elements: {point: {radius: 0}},
      scales: {x: {type: "linear", title: {display: true, text: "minutes since the first point"}},
               y: {beginAtZero: true, title: {display: true, text: "%"}}}}});
  }

  /* Kind-specific parts of the page (a dataset's chart, a model's graphs) register here. */
  window.dxJobHooks = window.dxJobHooks || [];
  const runHooks = () => window.dxJobHooks.forEach((hook) => hook(job));

  async function refresh() {
    try {
      job = await dx.api("GET", `${job.url}.json`);
      render(); renderLog(job.log); runHooks();
    } catch (e) { /* retried on the next event */ }
  }

  function renderLog(lines) {
    const el = $("log");
    const card = $("log-card");
    if (card) card.hidden = !(lines || []).length;  // no empty black box
    const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 5;
    el.textContent = (lines || []).join("\n");
    if (atEnd) el.scrollTop = el.scrollHeight;
  }

  async function act(method, url, okText, after) {
    try { await dx.api(method, url); message(okText); if (after) after(); } catch (e) { message(e.message, true); }
  }

  $("btn-abort").addEventListener("click", () => act("POST", `/jobs/${job.id}/abort`, "Aborting…"));
  $("btn-resume").addEventListener("click", () => act("POST", `/jobs/${job.id}/resume`, "Resumed.", refresh));
  $("btn-delete").addEventListener("click", async () => {
    if (await dx.confirm(`Delete ${job.name} and its files?`, {ok: "Delete", danger: true}))
      act("DELETE", `/jobs/${job.id}`, "Deleted.", () => { window.location = "/"; });
  });
  $("btn-save").addEventListener("click", async () => {
    try {
      job = await dx.api("PUT", `/jobs/${job.id}`, {job_name: $("job-name").value, job_notes: $("job-notes").value});
      if ($("job-tags")) job = await dx.api("POST", `/jobs/${job.id}/tags`, {tags: $("job-tags").value});
      message("Saved."); refresh();
    } catch (e) { message(e.message, true); }
  });

  dx.connect([job.id], {
    [dx.EVENTS.job]: (msg) => {
      if (msg.job_id !== job.id) return;
      if (msg.update === "deleted") { message("This job was deleted.", true); return; }
      job = {...job, ...msg.job};
      render();
    },
    [dx.EVENTS.task]: (msg) => {
      if (msg.update === "page" && msg.job_id === job.id) {  // after a status or result change
        job = msg.job;
        render(); renderLog(job.log); runHooks();
        return;
      }
      (window.dxTaskHooks || []).forEach((hook) => hook(msg));
      if (msg.update === "telemetry" && msg.point) {  // a cluster node's point: chart it live
        job.telemetry = [...(job.telemetry || []), msg.point];
        renderUtilization();
      } else if (msg.update === "telemetry" && msg.process) {
        const p = msg.process;
        $("job-process").textContent = `pid ${p.pid} · CPU ${p.cpu_percent ?? "?"}% · RSS ${dx.bytes(p.rss)} · ${p.processes} process(es)`;
      } else if (msg.update === "log" && msg.line != null) {  // the pushed line; no re-fetch
        job.log = [...(job.log || []), msg.line].slice(-LOG_LINES);
        renderLog(job.log);
      }
    },
    [dx.EVENTS.server]: () => {},
    "connect": refresh,
  });
  /* Parts the server draws from a finished job (a pretrained model's network, input and
     classes: [data-refresh-when-done] with an id) are fetched again once it is Done, so they
     never stay blank until a reload. */
  async function refreshDrawn() {
    const parts = [...document.querySelectorAll("[data-refresh-when-done][id]")];
    if (!parts.length) return;
    try {
      const res = await fetch(window.location.pathname, {headers: {Accept: "text/html"}});
      if (!res.ok) return;
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const el of parts) {
        const found = fresh.getElementById(el.id);
        if (found) { el.innerHTML = found.innerHTML; el.hidden = false; }
      }
      window.dxRefreshedWhenDone = (window.dxRefreshedWhenDone || 0) + 1;
    } catch (e) { /* the next visit draws it */ }
  }

  /* Pushes carry the changes (a status or result change brings the whole page's JSON, the
     kind's details included); the clock only ticks the running state's duration. */
  setInterval(() => { if (dx.isActive(job.status)) renderTimeline(); }, 1000);
  render();
  renderLog(job.log);
  window.addEventListener("load", runHooks);
})();
