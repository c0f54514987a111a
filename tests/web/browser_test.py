#!/usr/bin/python3
"""The web view in a real browser (docs/web.md).

Debian's chromium, headless, driven through chromium-driver by python3-selenium,
against real processes: `tasker serve` and `tasker worker` (command handlers,
templates/checkout.yaml) on a real SQLite file. Screenshots go to --artifacts.
Every wait is a generous limit against hangs, never a measure of speed.

    browser_test.py --tasker build/dev/cli/tasker --artifacts DIR [TestClass ...]
"""
import argparse
import hashlib
import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from chromium import chromium

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
WAIT = 90  # seconds: a limit against hangs on a loaded machine, never an assertion of speed
ARGS = None  # set in main()


def wait_for(condition, what, limit=WAIT):
    """condition()'s first truthy value; fails naming `what` after `limit` seconds."""
    deadline = time.monotonic() + limit
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # the page may be mid-update; look again
            last_error = e
        time.sleep(0.2)
    raise AssertionError(f"waited {limit} s for {what}" + (f" (last error: {last_error})" if last_error else ""))


class Service:
    """A `tasker serve` (or worker) process, its stderr kept in the artifacts folder."""

    def __init__(self, name, args, env=None, url=False):
        self.log_path = os.path.join(ARGS.artifacts, name + ".log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([ARGS.tasker] + args, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        env={**os.environ, **(env or {})})
        self.url = self.process.stdout.readline().strip() if url else None
        if url and not self.url.startswith("http://"):
            raise AssertionError(f"{name} did not print its URL; see {self.log_path}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Tasker:
    """tasker serve and a worker on one SQLite file in `folder`; `keys`: {name: (token, permissions)}."""

    def __init__(self, folder, keys=None):
        self.db = "sqlite://" + os.path.join(folder, "tasker.db")
        env = {}
        if keys:
            env["TASKER_API_KEYS"] = ";".join(
                f"{name}:{hashlib.sha256(token.encode()).hexdigest()}:{','.join(perms)}"
                for name, (token, perms) in keys.items())
        common = ["--db", self.db, "--templates", TEMPLATES]
        self.server = Service("serve-" + os.path.basename(folder), ["serve", *common, "--listen", "127.0.0.1:0"],
                              env, url=True)
        self.worker = Service("worker-" + os.path.basename(folder), ["worker", *common])
        self.url = self.server.url

    def api(self, method, path, body=None, token=None):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def json(self, method, path, body=None, token=None):
        status, text = self.api(method, path, body, token)
        if status >= 300:
            raise AssertionError(f"{method} {path}: {status} {text}")
        return json.loads(text)

    def submit(self, folder, context=None, token=None):
        """A checkout whose payment fails until `gateway_fixed` exists; returns its uuid and that path."""
        flag = os.path.join(folder, "gateway-fixed-" + str(time.monotonic_ns()))
        body = {"namespace": "web_test", "name": "checkout", "initiator": "browser test",
                "context": {"gateway_fixed": flag, **(context or {})}}
        return self.json("POST", "/v1/tasks", body, token)["task_uuid"], flag

    def wait_for_state(self, uuid, state, token=None):
        return wait_for(lambda: self.json("GET", "/v1/tasks/" + uuid, token=token)["status"] == state,
                        f"task {uuid} to be {state}")

    def stop(self):
        self.worker.stop()
        self.server.stop()


def step_id(name):
    """The node id tasker gives a step (lib/server/graph_svg.cpp, step_node_id)."""
    return "step-" + "".join(chr(b) if re.fullmatch(rb"[A-Za-z0-9_-]", bytes([b])) else f".{b:02x}"
                             for b in name.encode())


class Structure(html.parser.HTMLParser):
    """Checks that a document is correct HTML as tasker writes it: a doctype,
    every element closed in order (void elements never), ids unique, no
    attribute twice, one title, one main and one h1, tables with a thead and a tbody."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.ids, self.tags, self.doctype = [], [], set(), {}, None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.problems.append(f"<{tag}> repeats an attribute: {names}")
        for name, value in attrs:
            if name == "id":
                if value in self.ids:
                    self.problems.append(f"id {value!r} is used twice")
                self.ids.add(value)
        if "svg" not in self.stack:  # an SVG has <title>s of its own
            self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "table":
            self.stack.append(tag)
            self.table_parts = set()
        elif tag not in self.VOID:
            self.stack.append(tag)
        if tag in ("thead", "tbody"):
            self.table_parts.add(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:  # <path/> in SVG: opened and closed at once
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            self.problems.append(f"</{tag}>: {tag} is a void element")
        elif not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()
            if tag == "table" and self.table_parts != {"thead", "tbody"}:
                self.problems.append("a <table> without its <thead> and <tbody>")

    def check(self, text):
        self.feed(text)
        self.close()
        if (self.doctype or "").lower() != "doctype html":
            self.problems.append(f"the doctype is {self.doctype!r}, not <!DOCTYPE html>")
        if self.stack:
            self.problems.append(f"never closed: {self.stack}")
        for tag in ("html", "head", "body", "title", "main", "h1"):
            if self.tags.get(tag) != 1:
                self.problems.append(f"{self.tags.get(tag, 0)} <{tag}> elements, not one")
        return self.problems


class BrowserCase(unittest.TestCase):
    """A tasker and a Chromium for the test class; `keys` for a server with API keys."""

    keys = None

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="tasker-web-" + cls.__name__ + "-")
        cls.tasker = Tasker(cls.folder, cls.keys)
        try:
            cls.browser = chromium(cls.folder, driver_log=os.path.join(ARGS.artifacts, "chromedriver.log"))
            cls.browser.set_script_timeout(WAIT)
        except Exception:
            cls.tasker.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.tasker.stop()
        shutil.rmtree(cls.folder, ignore_errors=True)

    def open(self, path):
        self.browser.get(self.tasker.url + path)

    def js(self, script, *args):
        return self.browser.execute_script(script, *args)

    def screenshot(self, name):
        self.browser.save_screenshot(os.path.join(ARGS.artifacts, name + ".png"))

    def text(self, css):
        """What the element shows."""
        return self.browser.find_element(By.CSS_SELECTOR, css).text

    def content(self, css):
        """The element's whole text, folded parts included."""
        return self.js("return document.querySelector(arguments[0]).textContent", css)

    def console_errors(self, allowed=()):
        """The browser's console errors since the last call (a CSP violation or a script error is one)."""
        return [e["message"] for e in self.browser.get_log("browser")
                if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]

    def graph_nodes(self):
        """Each drawn node of #graph: id -> class."""
        return self.js("return Object.fromEntries([...document.querySelectorAll('#graph g.node')]"
                       ".map(g => [g.id, g.getAttribute('class')]))")

    def fill_of(self, node_id):
        return self.js("return getComputedStyle(document.getElementById(arguments[0]).querySelector('path')).fill",
                       node_id)

    def state_colour(self, state):
        """The state's colour as the server's states.css says, as the browser reports colours."""
        _, css = self.tasker.api("GET", "/ui/states.css")
        hex_colour = re.search(r"\.state-" + state + r" \{ --state: #([0-9a-f]{6}); \}", css).group(1)
        return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (0, 2, 4)))

    def act(self, step, action, reason, result=None):
        form = self.browser.find_element(By.ID, "step-action")
        Select(form.find_element(By.NAME, "step")).select_by_visible_text(step)
        Select(form.find_element(By.NAME, "action")).select_by_value(action)
        form.find_element(By.NAME, "reason").clear()
        form.find_element(By.NAME, "reason").send_keys(reason)
        if result is not None:
            box = form.find_element(By.NAME, "result")
            box.clear()
            box.send_keys(result)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


class WebView(BrowserCase):
    def test_failed_step_reset_from_the_task_page_turns_the_task_complete_without_a_reload(self):
        uuid, flag = self.tasker.submit(self.folder)
        self.tasker.wait_for_state(uuid, "error")
        steps = [s["name"] for s in self.tasker.json("GET", "/v1/tasks/" + uuid)["steps"]]
        self.assertEqual(steps, ["validate", "charge", "reserve", "ship"])

        # The list shows it, newest first, with its state; its link opens the task page.
        self.open("/")
        row = wait_for(lambda: self.browser.find_element(By.CSS_SELECTOR, f"tr[data-task='{uuid}']"), "the task's row")
        self.assertEqual(self.browser.find_element(By.CSS_SELECTOR, "#tasks tbody tr").get_attribute("data-task"), uuid)
        self.assertIn("error", row.text)
        self.assertIn("web_test/checkout@1.0.0", row.text)
        self.screenshot("task-list")
        row.find_element(By.LINK_TEXT, uuid).click()
        wait_for(lambda: self.browser.current_url.endswith("/tasks/" + uuid), "the task page")

        # One node per step, each coloured by its state: charge failed, ship never ran.
        nodes = wait_for(lambda: (n := self.graph_nodes()) and len(n) == 4 and n, "four nodes in the graph")
        self.assertEqual(set(nodes), {step_id(s) for s in steps})
        self.assertEqual(nodes[step_id("charge")], "node step state-error")
        self.assertEqual(nodes[step_id("validate")], "node step state-complete")
        self.assertEqual(nodes[step_id("reserve")], "node step state-complete")
        self.assertEqual(nodes[step_id("ship")], "node step state-pending")
        self.assertEqual(self.fill_of(step_id("charge")), self.state_colour("error"))
        self.assertEqual(self.fill_of(step_id("validate")), self.state_colour("complete"))
        wait_for(lambda: self.text("#task-state") == "error", "the task's state")
        self.assertIn("card declined <b>by</b> the <script>gateway</script>", self.content("#steps"))
        wait_for(lambda: "charge" in self.text("#audit") and "error" in self.text("#audit"), "the audit trail")
        self.screenshot("task-failed")

        # The gateway is fixed; the operator resets the step; the page follows without a reload.
        self.js("window.__sameDocument = true")
        open(flag, "w").close()
        self.act("charge", "reset_for_retry", "gateway fixed")
        wait_for(lambda: "done for charge" in self.text("#step-action-status"), "the reset to be accepted")
        wait_for(lambda: self.text("#task-state") == "complete", "the page to show the task complete")
        self.assertTrue(self.js("return window.__sameDocument === true"), "the page was reloaded")
        nodes = wait_for(lambda: (n := self.graph_nodes()) and all("state-complete" in c for c in n.values()) and n,
                         "every node complete")
        self.assertEqual(len(nodes), 4)
        self.assertEqual(self.fill_of(step_id("charge")), self.state_colour("complete"))
        self.assertEqual(self.js("return document.querySelector('#task-progress').value"), 100)
        charge = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/charge")
        self.assertIn(f"attempts {charge['attempts']}/{charge['max_attempts']}", self.content("#" + step_id("charge")))
        wait_for(lambda: "gateway fixed" in self.text("#audit"), "the reset in the audit trail")
        self.screenshot("task-complete")

        # A finished step rerun with its dependents: they run again, the task completes again.
        before = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/reserve")["attempts"]
        self.act("reserve", "rerun", "stock recounted")
        wait_for(lambda: "done for reserve" in self.text("#step-action-status"), "the rerun to be accepted")
        wait_for(lambda: self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/ship")["attempts"] == 2,
                 "ship to run again after reserve")
        wait_for(lambda: self.text("#task-state") == "complete", "the page to show the task complete again")
        self.assertEqual(self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/reserve")["attempts"], before + 1)
        self.assertEqual(self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/validate")["attempts"], 1)
        wait_for(lambda: "stock recounted" in self.text("#audit"), "the rerun in the audit trail")

        # Submitted again as a new task: the page links to it, and it carries the link back.
        form = self.browser.find_element(By.ID, "rerun-task")
        form.find_element(By.NAME, "reason").send_keys("audit asked")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        link = wait_for(lambda: self.browser.find_element(By.ID, "rerun-link"), "the link to the new task")
        again = self.tasker.json("GET", "/v1/tasks/" + link.text)
        self.assertIn("rerun-of:" + uuid, again["tags"])
        self.assertTrue(link.get_attribute("href").endswith("/tasks/" + link.text))
        self.assertEqual(self.console_errors(), [])

    def test_a_failed_task_links_to_its_dead_letter_entry_which_the_page_resolves(self):
        uuid, _ = self.tasker.submit(self.folder)
        self.tasker.wait_for_state(uuid, "error")
        # The worker records the entry in the background, a few seconds after the task failed.
        entry = wait_for(lambda: self.tasker.json("GET", "/v1/dlq/task/" + uuid), "the task's dead-letter entry")
        self.open("/tasks/" + uuid)
        wait_for(lambda: self.browser.find_element(By.ID, "dlq-link"), "the link to the entry").click()
        wait_for(lambda: self.text("#dlq-entry-uuid") == entry["dlq_entry_uuid"], "the entry's page")
        self.assertIn("max retries exceeded", self.text("#dlq-fields"))
        self.assertIn("charge", self.text("#dlq-steps"))
        self.assertIn("card declined <b>by</b> the <script>gateway</script>", self.content("#dlq-steps"))
        form = self.browser.find_element(By.ID, "dlq-update")
        Select(form.find_element(By.NAME, "status")).select_by_value("manually_resolved")
        form.find_element(By.NAME, "resolved_by").send_keys("grace")
        form.find_element(By.NAME, "notes").send_keys("refunded by hand")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: self.text("#dlq-update-status") == "saved", "the update to be saved")
        wait_for(lambda: self.text("#dlq-status") == "manually resolved", "the page to show the new status")
        saved = self.tasker.json("GET", "/v1/dlq/task/" + uuid)
        self.assertEqual((saved["resolution_status"], saved["resolved_by"], saved["resolution_notes"]),
                         ("manually_resolved", "grace", "refunded by hand"))
        self.screenshot("dlq-entry")
        # The list, filtered by status, shows it; pending shows nothing.
        self.open("/dlq")
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, f"tr[data-entry='{entry['dlq_entry_uuid']}']"),
                 "the entry in the list")
        Select(self.browser.find_element(By.CSS_SELECTOR, "#dlq-filter select")).select_by_value("pending")
        wait_for(lambda: not self.browser.find_elements(By.CSS_SELECTOR, "#dlq-entries tbody tr"),
                 "the pending filter to leave it out")
        status, page = self.tasker.api("GET", "/dlq")
        self.assertEqual(status, 200)
        self.assertEqual(Structure().check(page), [], "as served")
        self.assertEqual(self.console_errors(), [])

    def test_pages_are_correct_html_before_and_after_their_scripts_ran(self):
        uuid, _ = self.tasker.submit(self.folder)
        self.tasker.wait_for_state(uuid, "error")
        for path, ready in (("/", "#tasks tbody tr"), ("/tasks/" + uuid, "#graph g.node"),
                            ("/templates", "#templates tbody tr"),
                            ("/templates/web_test/checkout/1.0.0", "#graph g.node")):
            with self.subTest(path=path):
                status, page = self.tasker.api("GET", path)
                self.assertEqual(status, 200)
                self.assertEqual(Structure().check(page), [], "as served")
                self.open(path)
                wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, ready), f"{path} to fill in")
                self.assertEqual(Structure().check("<!DOCTYPE html>" + self.js(
                    "return document.documentElement.outerHTML")), [], "as the scripts left it")
                self.assertEqual(self.console_errors(), [], "console errors (a CSP violation is one)")

    def test_user_strings_show_as_text_and_never_run(self):
        hostile = "<script>window.__injected = 1</script><img src=x onerror='window.__injected = 2'>"
        uuid, _ = self.tasker.submit(self.folder, {"note": hostile})
        self.tasker.wait_for_state(uuid, "error")
        self.open("/tasks/" + uuid)
        wait_for(lambda: json.dumps(hostile) in self.content("#task-context"), "the context, as text")
        wait_for(lambda: "<script>gateway</script>" in self.content("#steps"), "the error message, as text")
        self.assertIsNone(self.js("return window.__injected"))
        self.assertEqual(self.js("return document.querySelectorAll('img').length"), 0)
        self.assertEqual(self.js("return [...document.scripts].map(s => s.getAttribute('src'))"),
                         ["/ui/tasker.js", "/ui/task.js"])
        self.assertEqual(self.js("return document.querySelectorAll('#steps b, #task-context script').length"), 0)
        self.screenshot("task-escaped")

    def test_complete_manually_takes_a_result_the_page_checks_is_json(self):
        uuid, _ = self.tasker.submit(self.folder)
        self.tasker.wait_for_state(uuid, "error")
        self.open("/tasks/" + uuid)
        wait_for(lambda: self.text("#task-state") == "error", "the task page")
        # Every request the page makes from now on is recorded (fetch is called synchronously on submit).
        self.js("window.__sent = []; const f = window.fetch;"
                "window.fetch = (url, o) => { window.__sent.push((o && o.method) || 'GET'); return f(url, o); }")
        self.act("charge", "complete_manually", "paid by hand", '{"payment_id": "manual-7",')
        wait_for(lambda: "not valid JSON" in self.text("#step-action-status"), "the page to refuse the result")
        self.assertIn("invalid", self.browser.find_element(By.NAME, "result").get_attribute("class"))
        self.assertNotIn("PATCH", self.js("return window.__sent"))
        charge = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/charge")
        self.assertEqual(charge["current_state"], "error")
        self.act("charge", "complete_manually", "paid by hand", '{"payment_id": "manual-7"}')
        wait_for(lambda: self.text("#task-state") == "complete", "the task to complete")
        charge = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/charge")
        self.assertEqual(charge["result"], {"payment_id": "manual-7"})
        audit = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/charge/audit")
        self.assertEqual(audit[-1]["reason"], "paid by hand")

    def test_task_list_filters_pages_and_refreshes(self):
        first, _ = self.tasker.submit(self.folder)
        second, flag = self.tasker.submit(self.folder)
        self.tasker.wait_for_state(first, "error")
        self.tasker.wait_for_state(second, "error")
        self.open("/?template=web_test/checkout&status=error&per_page=1")
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, "#tasks tbody tr"), "the list")
        rows = self.browser.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")
        self.assertEqual(len(rows), 1)
        newest = rows[0].get_attribute("data-task")
        self.assertIn("older", self.text("#pager"))
        self.assertEqual(Select(self.browser.find_element(By.NAME, "status")).first_selected_option.text, "error")
        wait_for(lambda: Select(self.browser.find_element(By.NAME, "template")).first_selected_option.text ==
                 "web_test/checkout", "the template filter to show its value")
        self.browser.find_element(By.LINK_TEXT, "older →").click()
        wait_for(lambda: "page 2" in self.text("#pager"), "page 2")
        older = wait_for(lambda: self.browser.find_element(By.CSS_SELECTOR, "#tasks tbody tr").get_attribute(
            "data-task"), "page 2's row")
        self.assertNotEqual(older, newest)
        # Auto-refresh: a task fixed and reset elsewhere leaves the error filter's first page.
        self.open("/?status=error&per_page=100")
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, f"tr[data-task='{second}']"), "the list")
        self.js("window.__sameDocument = true")
        open(flag, "w").close()
        self.tasker.json("PATCH", f"/v1/tasks/{second}/workflow_steps/charge",
                         {"action_type": "reset_for_retry", "reason": "fixed elsewhere"})
        wait_for(lambda: not self.browser.find_elements(By.CSS_SELECTOR, f"tr[data-task='{second}']"),
                 "the refreshed list to drop the completed task")
        self.assertTrue(self.js("return window.__sameDocument === true"))
        self.assertTrue(self.browser.find_elements(By.CSS_SELECTOR, f"tr[data-task='{first}']"))

    def test_template_pages_show_the_static_graph_with_handlers_and_retry_policies(self):
        self.open("/templates")
        link = wait_for(lambda: self.browser.find_element(By.LINK_TEXT, "checkout"), "the template list")
        link.click()
        nodes = wait_for(lambda: (n := self.graph_nodes()) and len(n) == 4 and n, "the template's graph")
        self.assertEqual(set(nodes.values()), {"node step"})
        self.assertEqual(set(nodes), {step_id(s) for s in ("validate", "charge", "reserve", "ship")})
        steps = self.text("#template-steps")
        self.assertIn("web_test.charge", steps)
        self.assertIn("no retry", steps)
        self.assertIn("validate", steps)
        self.assertIn("web_test.charge", self.js(
            f"return document.getElementById('{step_id('charge')}').textContent"))
        self.screenshot("template")
        self.assertEqual(self.console_errors(), [])


class Permissions(BrowserCase):
    keys = {"viewer": ("viewer-token", ["tasks:read", "tasks:list", "steps:read", "templates:read"]),
            "ops": ("ops-token", ["*"])}

    def use_key(self, token):
        if not self.browser.find_element(By.ID, "key-form").is_displayed():
            self.browser.find_element(By.ID, "key-toggle").click()
        box = self.browser.find_element(By.CSS_SELECTOR, "#key-form input[name=key]")
        box.clear()
        box.send_keys(token)
        self.browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()

    def test_operator_actions_are_refused_without_the_permission_and_the_page_says_why(self):
        uuid, _ = self.tasker.submit(self.folder, token="ops-token")
        self.tasker.wait_for_state(uuid, "error", token="ops-token")
        self.open("/tasks/" + uuid)
        wait_for(lambda: "API key" in self.text("#message"), "the page to ask for a key")
        self.assertTrue(self.browser.find_element(By.ID, "key-form").is_displayed())

        self.use_key("viewer-token")
        wait_for(lambda: self.text("#task-state") == "error", "the task, read with the viewer's key")
        self.act("charge", "reset_for_retry", "trying")
        wait_for(lambda: "403" in self.text("#step-action-status"), "the refusal")
        self.assertIn("API key `viewer` lacks the permission `steps:resolve`", self.text("#step-action-status"))
        cancel = self.browser.find_element(By.ID, "cancel-task")
        cancel.find_element(By.NAME, "reason").send_keys("not mine to cancel")
        cancel.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: "lacks the permission `tasks:cancel`" in self.text("#cancel-status"), "the refusal")
        self.screenshot("permission-refused")
        task = self.tasker.json("GET", "/v1/tasks/" + uuid, token="ops-token")
        self.assertEqual(task["status"], "error")
        self.assertEqual([s["current_state"] for s in task["steps"]], ["complete", "error", "complete", "pending"])

        self.use_key("ops-token")
        wait_for(lambda: self.text("#task-state") == "error", "the task, read with the ops key")
        cancel = self.browser.find_element(By.ID, "cancel-task")
        cancel.find_element(By.NAME, "reason").send_keys("duplicate order")
        cancel.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: self.text("#task-state") == "cancelled", "the task cancelled")
        self.assertEqual(self.tasker.json("GET", "/v1/tasks/" + uuid, token="ops-token")["status"], "cancelled")
        self.assertEqual(self.console_errors(allowed=("status of 401", "status of 403")), [])


class Waiting(BrowserCase):
    """A signal step that waits (web_test/approval) and the schedules page."""

    def submit_approval(self):
        body = {"namespace": "web_test", "name": "approval", "initiator": "browser test", "context": {}}
        uuid = self.tasker.json("POST", "/v1/tasks", body)["task_uuid"]
        wait_for(lambda: self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/manager_approval")[
            "current_state"] == "waiting", "manager_approval to wait")
        return uuid

    def send_signal(self, payload, key):
        form = self.browser.find_element(By.ID, "signal-task")
        for name, value in (("payload", payload), ("key", key)):
            form.find_element(By.NAME, name).clear()
            form.find_element(By.NAME, name).send_keys(value)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def test_the_signal_form_beside_a_waiting_step_delivers_it_once_per_key(self):
        uuid = self.submit_approval()
        self.open("/tasks/" + uuid)
        row = "#row-" + step_id("manager_approval")
        wait_for(lambda: self.text(row + " .badge") == "waiting", "the step's row to show it waiting")
        nodes = wait_for(lambda: (n := self.graph_nodes()) and len(n) == 3 and n, "three nodes in the graph")
        self.assertEqual(nodes[step_id("manager_approval")], "node step state-waiting")
        self.assertEqual(self.fill_of(step_id("manager_approval")), self.state_colour("waiting"))
        self.assertIn("1 waiting", self.text("#task-counts"))
        # Only the waiting signal step offers the signal form; the others offer the operator actions.
        self.assertEqual(self.text(row + " button"), "signal…")
        self.assertEqual(self.text("#row-" + step_id("prepare") + " button"), "act…")
        self.browser.find_element(By.CSS_SELECTOR, row + " button").click()
        form = self.browser.find_element(By.ID, "signal-task")
        self.assertEqual(form.find_element(By.NAME, "name").get_attribute("value"), "approval")
        self.assertEqual(self.js("return document.activeElement.name"), "payload")
        self.screenshot("signal-waiting")

        self.js("window.__sameDocument = true")
        self.send_signal('{"approved": true, "by": "grace"}', "web-approval-1")
        wait_for(lambda: self.text("#signal-status") == "signal approval: delivered", "the signal to be delivered")
        wait_for(lambda: self.text(row + " .badge") == "complete", "the step's row to show it complete")
        wait_for(lambda: self.text("#task-state") == "complete", "the task to complete")
        self.assertTrue(self.js("return window.__sameDocument === true"), "the page was reloaded")
        self.assertEqual(self.text(row + " button"), "act…")
        self.assertIn('"approved":true', self.content(row).replace(" ", ""))
        step = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/manager_approval")
        self.assertEqual(step["current_state"], "complete")
        self.assertEqual(step["result"], {"approved": True, "by": "grace"})
        wait_for(lambda: "signal `approval` received" in self.text("#audit"), "the signal in the audit trail")
        self.screenshot("signal-delivered")

        # The same key again (a second click, a retried webhook) changes nothing.
        self.send_signal('{"approved": false}', "web-approval-1")
        wait_for(lambda: self.text("#signal-status") == "signal approval: duplicate", "the duplicate")
        step = self.tasker.json("GET", f"/v1/tasks/{uuid}/workflow_steps/manager_approval")
        self.assertEqual(step["result"], {"approved": True, "by": "grace"})
        # A new key to a finished task is refused, and the page says why.
        self.send_signal('{"approved": false}', "web-approval-2")
        wait_for(lambda: "409" in self.text("#signal-status"), "the refusal")
        self.assertIn("it takes no more signals", self.text("#signal-status"))
        self.assertEqual(self.console_errors(allowed=("status of 409",)), [])

    def test_the_schedules_page_lists_a_schedule_and_pauses_resumes_and_triggers_it(self):
        # New Year's Day at 03:00 in Berlin: the worker never fires it during the test; only `trigger` does.
        created = self.tasker.json("POST", "/v1/schedules", {
            "name": "new-year", "namespace": "web_test", "task_name": "approval", "cron": "0 3 1 1 *",
            "time_zone": "Europe/Berlin", "context": {"note": "<b>not markup</b>"}, "overlap": "skip"})
        path = "/v1/schedules/new-year"
        self.open("/schedules")
        row = "#schedules tr[data-schedule='new-year']"
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, row), "the schedule's row")
        cells = [c.text for c in self.browser.find_elements(By.CSS_SELECTOR, row + " td")]
        self.assertEqual(cells[:8], ["new-year", "web_test/approval@1.0.0", "0 3 1 1 *", "Europe/Berlin",
                                     created["next_tick"], "–", "skip", "latest"])
        self.assertTrue(created["next_tick"].endswith("T02:00:00.000Z"))  # 03:00 CET
        self.assertEqual(self.browser.find_element(By.CSS_SELECTOR, row + " a").get_attribute("href"),
                         self.tasker.url + "/templates/web_test/approval/1.0.0")
        status, page = self.tasker.api("GET", "/schedules")
        self.assertEqual(status, 200)
        self.assertEqual(Structure().check(page), [], "as served")
        self.assertEqual(Structure().check("<!DOCTYPE html>" + self.js(
            "return document.documentElement.outerHTML")), [], "as the script left it")
        self.screenshot("schedules")

        def click(label):
            self.browser.find_element(By.XPATH, f"//tr[@data-schedule='new-year']//button[text()='{label}']").click()

        self.js("window.__sameDocument = true")
        click("pause")
        wait_for(lambda: self.text(row + " td:nth-child(5)") == "paused", "the row to show it paused")
        self.assertTrue(self.tasker.json("GET", path)["paused"])
        click("resume")
        wait_for(lambda: self.text(row + " td:nth-child(5)") == created["next_tick"], "the row to show its next tick")
        self.assertFalse(self.tasker.json("GET", path)["paused"])

        click("trigger")
        link = wait_for(lambda: self.browser.find_element(By.CSS_SELECTOR, row + " td:nth-child(6) a"),
                        "the row to link its last task")
        schedule = self.tasker.json("GET", path)
        self.assertEqual(link.get_attribute("href"), self.tasker.url + "/tasks/" + schedule["last_task_uuid"])
        self.assertEqual(link.text, schedule["last_tick"])
        task = self.tasker.json("GET", "/v1/tasks/" + schedule["last_task_uuid"])
        self.assertEqual(task["initiator"], "schedule:new-year")
        self.assertEqual(task["context"]["note"], "<b>not markup</b>")
        self.assertTrue(self.js("return window.__sameDocument === true"), "the page was reloaded")
        self.assertEqual(self.console_errors(), [])


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasker", required=True, help="the tasker binary")
    parser.add_argument("--artifacts", required=True, help="folder for screenshots and the processes' logs")
    ARGS, rest = parser.parse_known_args()
    os.makedirs(ARGS.artifacts, exist_ok=True)
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
