// The templates (/templates) and one template (/templates/NS/NAME/VERSION):
// its static DAG (SVG drawn by the server) and each step's handler and retry policy.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const {api, el, folded, say} = tasker;
  const parts = location.pathname.split("/").slice(2).map(decodeURIComponent);

  async function list() {
    const result = await api("GET", "/v1/templates");
    document.querySelector("#templates tbody").replaceChildren(...result.templates.map((t) => el("tr", {},
      el("td", {}, t.namespace),
      el("td", {}, el("a", {href: "/templates/" + [t.namespace, t.name, t.version].map(encodeURIComponent).join("/")},
        t.name)),
      el("td", {}, t.version), el("td", {}, t.step_count), el("td", {}, t.description || ""))));
  }

  function retryText(r) {
    if (!r.retryable || r.max_attempts <= 1) return "no retry";
    return `${r.max_attempts} attempts, ${r.backoff} backoff ${r.backoff_base_ms} ms … ${r.max_backoff_ms} ms`;
  }

  async function one() {
    const path = "/v1/templates/" + parts.map(encodeURIComponent).join("/");
    const t = await api("GET", path);
    document.title = `${t.namespace}/${t.name}@${t.version} · tasker`;
    document.getElementById("template-title").textContent = `${t.namespace}/${t.name}@${t.version}`;
    document.getElementById("template-description").textContent = t.description || "";
    document.getElementById("template-fields").replaceChildren(
      el("dt", {}, "identity"), el("dd", {}, t.identity_strategy),
      el("dt", {}, "configuration"), el("dd", {}, folded(t.configuration)));
    document.getElementById("template-tasks").href = "/?" + new URLSearchParams({template: t.namespace + "/" + t.name});
    document.querySelector("#template-steps tbody").replaceChildren(...t.steps.map((s) => el("tr", {},
      el("td", {}, s.name), el("td", {class: "mono"}, s.callable), el("td", {}, s.dependencies.join(", ") || "–"),
      el("td", {}, retryText(s.retry)), el("td", {}, s.timeout_seconds ? s.timeout_seconds + " s" : "–"),
      el("td", {}, s.description || ""))));
    await tasker.drawGraph(document.getElementById("graph"), path + "/graph");
  }

  (parts.length === 3 ? one() : list()).catch((e) => say(e.message));
});
