// The task list (/): GET /v1/tasks with the filters of the page's address,
// newest first, refreshed in place every 5 s.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const {api, el, badge, time, poll} = tasker;
  const query = new URLSearchParams(location.search);
  const form = document.getElementById("filters");
  const page = Math.max(1, parseInt(query.get("page") || "1", 10) || 1);

  // The API's query: the template filter ("namespace/name") becomes namespace and name.
  function apiQuery() {
    const q = new URLSearchParams({page, per_page: query.get("per_page") || "25"});
    if (query.get("namespace")) q.set("namespace", query.get("namespace"));
    if (query.get("status")) q.set("status", query.get("status"));
    const template = query.get("template") || "";
    const slash = template.indexOf("/");
    if (slash > 0) {
      q.set("namespace", template.slice(0, slash));
      q.set("name", template.slice(slash + 1));
    }
    return q;
  }

  function select(name, values) {
    const box = form.elements[name];
    for (const value of values) if (![...box.options].some((o) => o.value === value)) box.append(el("option", {}, value));
    box.value = query.get(name) || "";
  }

  function pageLink(n, text) {
    const q = new URLSearchParams(query);
    q.set("page", n);
    return el("a", {href: "/?" + q}, text);
  }

  function render(result) {
    const rows = result.tasks.map((t) =>
      el("tr", {"data-task": t.task_uuid},
        el("td", {class: "mono"}, el("a", {href: "/tasks/" + encodeURIComponent(t.task_uuid)}, t.task_uuid)),
        el("td", {}, el("a", {href: "/templates/" + [t.namespace, t.name, t.version].map(encodeURIComponent).join("/")},
          t.namespace + "/" + t.name + "@" + t.version)),
        el("td", {}, badge(t.status)),
        el("td", {}, el("progress", {max: 100, value: t.completion_percentage}),
          " " + t.completed_steps + "/" + t.total_steps),
        el("td", {}, time(t.created_at)),
        el("td", {}, time(t.updated_at))));
    document.querySelector("#tasks tbody").replaceChildren(...rows);
    document.getElementById("tasks-empty").hidden = rows.length > 0;
    const p = result.pagination;
    document.getElementById("pager").replaceChildren(
      p.has_previous ? pageLink(p.page - 1, "← newer") : "",
      el("span", {}, ` page ${p.page} of ${Math.max(1, p.total_pages)} (${p.total_count} tasks) `),
      p.has_next ? pageLink(p.page + 1, "older →") : "");
  }

  api("GET", "/v1/templates").then((t) => {
    select("namespace", t.namespaces.map((n) => n.name));
    select("template", [...new Set(t.templates.map((x) => x.namespace + "/" + x.name))]);
  }).catch((e) => tasker.say(e.message));
  form.elements.status.value = query.get("status") || "";
  form.elements.per_page.value = query.get("per_page") || "25";

  const auto = document.getElementById("auto-refresh");
  const refresh = poll(async () => render(await api("GET", "/v1/tasks?" + apiQuery())), () => (auto.checked ? 5000 : 0));
  auto.addEventListener("change", () => auto.checked && refresh());
});
