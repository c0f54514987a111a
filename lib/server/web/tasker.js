// What every page of tasker's web view shares: calls to the HTTP API (with the
// API key the user gave, kept for this tab only), building elements (every
// user-supplied string goes in as text, never as markup), and formatting.
"use strict";

const tasker = (() => {
  const keyName = "tasker.api_key";

  // The step's node id in the server's SVG (lib/server/graph_svg.cpp, step_node_id):
  // bytes outside [A-Za-z0-9_-] as "." and two hex digits.
  function stepId(name) {
    let id = "step-";
    for (const byte of new TextEncoder().encode(name)) {
      const c = String.fromCharCode(byte);
      id += /[A-Za-z0-9_-]/.test(c) ? c : "." + byte.toString(16).padStart(2, "0");
    }
    return id;
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // A call to the API: `body` is sent as JSON; answers JSON, or text for `as: "text"`.
  async function api(method, path, body, as = "json") {
    const headers = {};
    const key = sessionStorage.getItem(keyName);
    if (key) headers.Authorization = "Bearer " + key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      throw new ApiError(0, "UNREACHABLE", "tasker serve does not answer (" + e.message + "); is it running?");
    }
    if (!response.ok) {
      let error = {code: "HTTP_" + response.status, message: response.status + " " + response.statusText};
      try {
        error = (await response.json()).error || error;
      } catch (e) { /* not tasker's error body */ }
      if (response.status === 401) {
        document.getElementById("key-form").hidden = false;
        error.message += " Enter an API key above (docs/api.md, \"Authentication\").";
      }
      throw new ApiError(response.status, error.code, error.message);
    }
    return as === "text" ? response.text() : response.json();
  }

  // el("a", {href: "/x", class: "y"}, "text", child...): attributes and text are never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {}))
      if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
    for (const child of children.flat())
      if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  // A JSON value (or a message) as text; a long one folded behind its beginning, on one line.
  function folded(value) {
    if (value === undefined || value === null) return el("span", {class: "quiet"}, "–");
    const line = typeof value === "string" ? value : JSON.stringify(value);
    if (line.length <= 60 && !line.includes("\n")) return el("code", {}, line);
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return el("details", {class: "fold"}, el("summary", {}, line.replace(/\s+/g, " ").slice(0, 60) + "…"),
      el("pre", {}, text));
  }

  function badge(state) {
    return el("span", {class: "badge state-" + state}, state.replaceAll("_", " "));
  }

  function time(iso) {
    if (!iso) return el("span", {class: "quiet"}, "–");
    return el("time", {datetime: iso, title: iso}, ago(iso));
  }

  function ago(iso) {
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.floor(s) + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  function duration(fromIso, toIso) {
    if (!fromIso) return "–";
    const ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
    if (ms < 1000) return Math.max(0, ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " min " + Math.floor((ms % 60000) / 1000) + " s";
  }

  // The page's message line: errors from the API (say what, and why) or notices.
  function say(text, isError = true) {
    const p = document.getElementById("message");
    p.textContent = text || "";
    p.hidden = !text;
    p.classList.toggle("error", isError);
  }

  // Runs `load` now, then every `every()` ms after each run ends; runs never overlap.
  // An answer the client must change (4xx: a bad address, no key, no permission)
  // stops it; an unreachable server or a 5xx is tried again.
  function poll(load, every) {
    let timer = null;
    async function run() {
      clearTimeout(timer);
      try {
        await load();
      } catch (e) {
        say(e.message);
        if (e.status >= 400 && e.status < 500) return;
      }
      const ms = every();
      if (ms) timer = setTimeout(run, ms);
    }
    run();
    return run;
  }

  function svgOf(text) {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    if (doc.querySelector("parsererror")) throw new Error("the server's drawing is not valid SVG");
    return document.importNode(doc.documentElement, true);
  }

  // The graph at `path` drawn into `box`; `fit` toggles fitting it to the page's width.
  async function drawGraph(box, path) {
    try {
      box.replaceChildren(svgOf(await api("GET", path, undefined, "text")));
    } catch (e) {
      box.replaceChildren(el("p", {class: "message error"}, "The graph cannot be drawn: " + e.message));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("key-form");
    const toggle = document.getElementById("key-toggle");
    if (sessionStorage.getItem(keyName)) toggle.textContent = "API key ✓";
    toggle.addEventListener("click", () => { form.hidden = !form.hidden; });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(keyName, form.elements.key.value);
      location.reload();
    });
    document.getElementById("key-forget").addEventListener("click", () => {
      sessionStorage.removeItem(keyName);
      location.reload();
    });
    const fit = document.getElementById("graph-fit");
    if (fit) fit.addEventListener("change", () => document.getElementById("graph").classList.toggle("fit", fit.checked));
  });

  return {api, el, folded, badge, time, duration, say, poll, drawGraph, stepId, ApiError};
})();
