// One task (/tasks/UUID): summary, context, the DAG (SVG drawn by the server),
// steps, audit trail and operator actions. It re-reads GET /v1/tasks/UUID
// every 1.5 s while the task runs (every 5 s once it has ended, in case an
// operator acts elsewhere) and updates the page in place: nodes change class
// (so the style sheet recolours them) and their attempts line; the graph is
// drawn again only when the task's set of steps changes (dynamic steps).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const {api, el, folded, badge, time, duration, say, poll, stepId} = tasker;
  const uuid = decodeURIComponent(location.pathname.split("/")[2] || "");
  const base = "/v1/tasks/" + encodeURIComponent(uuid);
  const finished = ["complete", "error", "cancelled", "resolved_manually"];
  const $ = (id) => document.getElementById(id);
  let task = null;
  let drawnSteps = null; // the step names the drawn graph has
  let auditStamp = null; // updated_at of the task when the audit trail was read
  const rowStamps = new Map(); // step name -> what its row shows, to redraw only changed rows

  function field(name, value) {
    return [el("dt", {}, name), el("dd", {}, value)];
  }

  function renderSummary(t) {
    document.title = t.namespace + "/" + t.name + " " + t.task_uuid + " · tasker";
    $("task-title").textContent = t.task_uuid;
    $("task-state").replaceWith(Object.assign(badge(t.status), {id: "task-state"}));
    $("task-template").replaceChildren(el("a", {href: "/templates/" + [t.namespace, t.name, t.version]
      .map(encodeURIComponent).join("/")}, t.namespace + "/" + t.name + "@" + t.version));
    $("task-progress").value = t.completion_percentage;
    $("task-counts").textContent = `${t.completed_steps} of ${t.total_steps} steps complete, ${t.failed_steps} failed, ` +
      `${t.in_progress_steps} running, ${t.waiting_steps} waiting, ${t.ready_steps} ready, ` +
    `${t.waiting_for_retry_steps} waiting to retry`;
    $("task-fields").replaceChildren(...[
      field("execution", t.execution_status.replaceAll("_", " ") + " (" + t.health_status + ")"),
      field("created", time(t.created_at)), field("updated", time(t.updated_at)),
      field("completed", time(t.completed_at)), field("starts", time(t.run_at)),
      field("initiator", t.initiator || "–"),
      field("source system", t.source_system || "–"), field("reason", t.reason || "–"),
      field("priority", t.priority), field("tags", t.tags.join(", ") || "–"),
      field("correlation id", t.correlation_id || "–"),
      // An errored task has a dead-letter entry (made by a worker a few seconds after it failed).
      t.status === "error" ? field("dead letter", el("a", {href: "/dlq/tasks/" + encodeURIComponent(t.task_uuid),
        id: "dlq-link"}, "triage")) : [],
    ].flat());
    if (!$("task-context").firstChild) $("task-context").replaceChildren(folded(t.context));
  }

  function stepRow(s) {
    const signal = s.current_state === "waiting" && s.step_type === "signal";
    const act = el("button", {type: "button", class: "quiet"}, signal ? "signal…" : "act…");
    act.addEventListener("click", () => (signal ? chooseSignal(s.signal_name) : choose(s.name)));
    return el("tr", {id: "row-" + stepId(s.name)},
      el("td", {}, s.name),
      el("td", {class: "mono"}, s.callable),
      el("td", {}, badge(s.current_state)),
      el("td", {}, s.attempts + "/" + s.max_attempts),
      el("td", {}, duration(s.last_attempted_at, s.completed_at)),
      el("td", {}, s.error ? folded(s.error.message + (s.error.error_type ? " (" + s.error.error_type + ")" : "")) : ""),
      el("td", {}, s.result === undefined ? "" : folded(s.result)),
      el("td", {}, act));
  }

  function renderSteps(steps) {
    const body = document.querySelector("#steps tbody");
    if (body.rows.length !== steps.length) {
      rowStamps.clear();
      body.replaceChildren();
    }
    steps.forEach((s, i) => {
      const stamp = [s.current_state, s.attempts, s.updated_at, s.completed_at].join("|");
      if (rowStamps.get(s.name) === stamp) return;
      rowStamps.set(s.name, stamp);
      const row = stepRow(s);
      if (body.rows[i]) body.rows[i].replaceWith(row);
      else body.append(row);
    });
    const chooser = $("step-action").elements.step;
    if (chooser.options.length !== steps.length) {
      const chosen = chooser.value;
      chooser.replaceChildren(...steps.map((s) => el("option", {}, s.name)));
      if (chosen) chooser.value = chosen;
    }
  }

  // Each node's class and attempts line from the steps just read (the last
  // line of a node's label is its attempts: lib/model/graph.cpp, graph_of).
  function colourGraph(steps) {
    for (const s of steps) {
      const node = document.getElementById(stepId(s.name));
      if (!node) continue;
      node.setAttribute("class", "node step state-" + s.current_state);
      const lines = node.querySelectorAll("text");
      if (lines.length) lines[lines.length - 1].textContent = "attempts " + s.attempts + "/" + s.max_attempts;
    }
  }

  // The graph is drawn (by the server) again only when the task's steps changed.
  async function redrawGraph(steps) {
    const names = steps.map((s) => s.name).join("\n");
    if (names === drawnSteps) return;
    drawnSteps = names;
    const start = performance.now();
    await tasker.drawGraph($("graph"), base + "/graph");
    performance.measure("tasker:graph", {start});
    for (const node of $("graph").querySelectorAll("g.node"))
      node.addEventListener("click", () => choose(node.querySelector("title").textContent));
    colourGraph(steps);
  }

  async function renderAudit(t) {
    if (auditStamp === t.updated_at) return;
    auditStamp = t.updated_at;
    const entries = (await api("GET", base + "/transitions")).reverse();
    const shown = entries.slice(0, 500);
    $("audit-note").textContent = entries.length > shown.length
      ? `The newest ${shown.length} of ${entries.length} transitions.` : "Newest first.";
    document.querySelector("#audit tbody").replaceChildren(...shown.map((a) => el("tr", {},
      el("td", {}, time(a.recorded_at)), el("td", {}, a.step_name || el("em", {}, "task")),
      el("td", {}, a.from_state ? badge(a.from_state) : "–"), el("td", {}, badge(a.to_state)),
      el("td", {}, a.attempt || ""), el("td", {class: "mono"}, a.worker_id || ""), el("td", {}, a.reason || ""))));
  }

  // Each refresh is timed as "tasker:fetch" (the API's answer) and "tasker:render"
  // (this script's work on it), a new drawing as "tasker:graph", for the browser's
  // performance panel and bench/web_view.py.
  async function load() {
    const start = performance.now();
    task = await api("GET", base);
    const fetched = performance.now();
    say("");
    renderSummary(task);
    renderSteps(task.steps);
    colourGraph(task.steps);
    performance.measure("tasker:fetch", {start, end: fetched});
    performance.measure("tasker:render", {start: fetched});
    await redrawGraph(task.steps);
    await renderAudit(task);
  }

  const refresh = poll(load, () => (task && finished.includes(task.status) ? 5000 : 1500));

  // --- operator actions, through the API's PATCH and DELETE (and its permissions)
  const form = $("step-action");
  function choose(name) {
    form.elements.step.value = name;
    form.scrollIntoView({block: "nearest"});
    form.elements.reason.focus();
  }
  function showResult() {
    $("result-field").hidden = form.elements.action.value !== "complete_manually";
    checkResult();
  }
  // The result must be JSON before it is sent: the page says why not, and sends nothing.
  function checkResult() {
    const box = form.elements.result;
    let problem = "";
    if (!$("result-field").hidden) {
      try {
        JSON.parse(box.value);
      } catch (e) {
        problem = "The result is not valid JSON: " + e.message;
      }
    }
    const status = $("step-action-status");
    if (problem || box.classList.contains("invalid")) {
      status.className = problem ? "status error" : "status";
      status.textContent = problem;
    }
    box.classList.toggle("invalid", problem !== "");
    return problem;
  }
  form.elements.action.addEventListener("change", showResult);
  form.elements.result.addEventListener("input", checkResult);

  async function act(statusId, call, done) {
    const status = $(statusId);
    status.className = "status";
    status.textContent = "sending…";
    try {
      const answer = await call();
      // What to say: text, or nodes (a link to what the action created).
      status.replaceChildren(typeof done === "function" ? done(answer) : done);
      refresh();
    } catch (e) {
      status.className = "status error";
      status.textContent = (e.status ? e.status + " " : "") + e.message;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (checkResult()) return;
    const f = form.elements;
    const by = {reset_for_retry: "reset_by", rerun: "rerun_by", resolve_manually: "resolved_by",
      complete_manually: "completed_by"};
    const body = {action_type: f.action.value, reason: f.reason.value};
    if (f.by.value) body[by[f.action.value]] = f.by.value;
    if (f.action.value === "complete_manually") body.completion_data = {result: JSON.parse(f.result.value)};
    act("step-action-status", () => api("PATCH", base + "/workflow_steps/" + encodeURIComponent(f.step.value), body),
      `${f.action.value.replaceAll("_", " ")}: done for ${f.step.value}`);
  });

  // A signal step that waits: the form is filled with its signal's name (`signal.name`, the step's by default).
  const signalForm = $("signal-task");
  function chooseSignal(name) {
    signalForm.elements.name.value = name;
    signalForm.scrollIntoView({block: "nearest"});
    signalForm.elements.payload.focus();
  }
  signalForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = signalForm.elements;
    let payload;
    try {
      payload = JSON.parse(f.payload.value);
    } catch (e) {
      $("signal-status").className = "status error";
      $("signal-status").textContent = "The payload is not valid JSON: " + e.message;
      return;
    }
    const body = {payload};
    if (f.key.value) body.key = f.key.value;
    act("signal-status", () => api("POST", base + "/signals/" + encodeURIComponent(f.name.value), body),
      (answer) => `signal ${f.name.value}: ${answer.status}`);  // delivered, buffered or duplicate
  });

  const rerun = $("rerun-task");
  rerun.addEventListener("submit", (event) => {
    event.preventDefault();
    act("rerun-status", () => api("POST", base + "/rerun", {reason: rerun.elements.reason.value}),
      (task) => el("span", {}, "submitted again as ",
        el("a", {href: "/tasks/" + encodeURIComponent(task.task_uuid), id: "rerun-link"}, task.task_uuid)));
  });

  const cancel = $("cancel-task");
  cancel.addEventListener("submit", (event) => {
    event.preventDefault();
    act("cancel-status", () => api("DELETE", base + "?" + new URLSearchParams({reason: cancel.elements.reason.value})),
      "cancelled");
  });
  showResult();
});
