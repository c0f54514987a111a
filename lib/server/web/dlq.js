// Dead-letter triage: /dlq lists the entries (filtered by resolution status),
// /dlq/tasks/{uuid} shows a task's newest entry with its snapshot and a form
// that updates it (PATCH /v1/dlq/entry/{uuid}). Everything goes through /v1/dlq
// with the page's key.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const {api, el, say, badge, folded, time} = tasker;
  const $ = (id) => document.getElementById(id);
  const match = location.pathname.match(/^\/dlq\/tasks\/([^/]+)$/);

  function entryRow(e) {
    const snap = e.task_snapshot || {};
    return el("tr", {"data-entry": e.dlq_entry_uuid},
      el("td", {class: "mono"}, el("a", {href: "/dlq/tasks/" + encodeURIComponent(e.task_uuid)}, e.task_uuid)),
      el("td", {}, (snap.namespace || "?") + "/" + (snap.task_name || "?")),
      el("td", {}, e.dlq_reason.replaceAll("_", " ")),
      el("td", {class: "resolution"}, e.resolution_status.replaceAll("_", " ")),
      el("td", {}, time(e.dlq_timestamp + "Z")), el("td", {}, e.resolved_by || "–"));
  }

  async function list() {
    const status = $("dlq-filter").elements.status.value;
    const query = new URLSearchParams({limit: "200"});
    if (status) query.set("resolution_status", status);
    const entries = await api("GET", "/v1/dlq?" + query);
    $("dlq-entries").querySelector("tbody").replaceChildren(...entries.map(entryRow));
    if (!entries.length) say("No dead-letter entries" + (status ? " with this status." : "."), false);
    else say("");
  }

  function field(name, value) {
    return [el("dt", {}, name), el("dd", {}, value)];
  }

  function show(e) {
    const snap = e.task_snapshot || {};
    $("dlq-title").textContent = "Dead letter of task " + e.task_uuid;
    $("dlq-task-link").href = "/tasks/" + encodeURIComponent(e.task_uuid);
    $("dlq-fields").replaceChildren(...[
      field("entry", el("span", {class: "mono", id: "dlq-entry-uuid"}, e.dlq_entry_uuid)),
      field("template", (snap.namespace || "?") + "/" + (snap.task_name || "?") + "@" + (snap.version || "?")),
      field("reason", e.dlq_reason.replaceAll("_", " ")),
      field("state then", badge(e.original_state)),
      field("recorded", time(e.dlq_timestamp + "Z")),
      field("status", el("span", {id: "dlq-status"}, e.resolution_status.replaceAll("_", " "))),
      field("resolved", time(e.resolution_timestamp ? e.resolution_timestamp + "Z" : null)),
      field("resolved by", e.resolved_by || "–"),
      field("notes", e.resolution_notes || "–"),
    ].flat());
    $("dlq-steps").querySelector("tbody").replaceChildren(...(snap.failed_steps || []).map((s) =>
      el("tr", {}, el("td", {}, s.name), el("td", {}, `${s.attempts} of ${s.max_attempts}`),
        el("td", {}, s.error ? s.error.error_type : "–"), el("td", {}, s.error ? folded(s.error.message) : "–"))));
    $("dlq-snapshot").replaceChildren(folded(snap));
    const f = $("dlq-update").elements;
    f.status.value = e.resolution_status;
    f.resolved_by.value = e.resolved_by || "";
    f.notes.value = e.resolution_notes || "";
    $("dlq-update").dataset.entry = e.dlq_entry_uuid;
  }

  if (match) {
    $("dlq-list").hidden = true;
    $("dlq-entry").hidden = false;
    const task = decodeURIComponent(match[1]);
    api("GET", "/v1/dlq/task/" + encodeURIComponent(task)).then(show).catch((e) => say(e.message));
    $("dlq-update").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = $("dlq-update");
      const f = form.elements;
      const status = $("dlq-update-status");
      status.className = "status";
      status.textContent = "sending…";
      const body = {resolution_status: f.status.value, resolution_notes: f.notes.value};
      if (f.resolved_by.value) body.resolved_by = f.resolved_by.value;
      api("PATCH", "/v1/dlq/entry/" + encodeURIComponent(form.dataset.entry), body)
        .then((answer) => {
          show(answer.entry);
          status.textContent = "saved";
        })
        .catch((e) => {
          status.className = "status error";
          status.textContent = (e.status ? e.status + " " : "") + e.message;
        });
    });
  } else {
    $("dlq-filter").elements.status.addEventListener("change", () => list().catch((e) => say(e.message)));
    list().catch((e) => say(e.message));
  }
});
