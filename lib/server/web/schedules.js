// The schedules (/schedules): each with its template, cron, next tick and last
// task, and the operator's actions on it: pause or resume (PATCH paused) and
// trigger (a task now). Everything goes through /v1/schedules with the page's key. Every
// change sends a JSON body, `{}` for a trigger: a server without API keys takes changes only as JSON.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const {api, el, say} = tasker;

  function action(label, run) {
    const button = el("button", {type: "button", class: "quiet"}, label);
    button.addEventListener("click", () => run().then(list).catch((e) => say(e.message)));
    return button;
  }

  function row(s) {
    const path = "/v1/schedules/" + encodeURIComponent(s.name);
    const template = `${s.namespace}/${s.task_name}@${s.version}`;
    return el("tr", {"data-schedule": s.name},
      el("td", {}, s.name),
      el("td", {}, el("a", {href: "/templates/" + [s.namespace, s.task_name, s.version].map(encodeURIComponent).join("/")},
        template)),
      el("td", {class: "mono"}, s.cron), el("td", {}, s.time_zone),
      el("td", {}, s.paused ? "paused" : (s.next_tick || "–")),
      el("td", {}, s.last_task_uuid ? el("a", {href: "/tasks/" + encodeURIComponent(s.last_task_uuid)}, s.last_tick)
        : "–"),
      el("td", {}, s.overlap), el("td", {}, s.catch_up),
      el("td", {},
        s.paused ? action("resume", () => api("PATCH", path, {paused: false}))
          : action("pause", () => api("PATCH", path, {paused: true})),
        " ",
        action("trigger", () => api("POST", path + "/trigger", {}))));
  }

  async function list() {
    const result = await api("GET", "/v1/schedules");
    document.querySelector("#schedules tbody").replaceChildren(...result.schedules.map(row));
  }

  list().catch((e) => say(e.message));
});
