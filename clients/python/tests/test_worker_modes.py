"""`python3 -m tasker.worker` alone, both modes, through pipes (no tasker binary needed)."""

import json
import os
import subprocess
import sys

from conftest import SRC, child_env

HANDLERS = """
import os, sys
from tasker import handler, PermanentError, RetryableError

@handler("t.echo")
def echo(ctx):
    print("a log line")
    return {"n": ctx.context["n"], "pid": os.getpid()}

@handler("t.fail")
def fail(ctx):
    raise PermanentError("no", {"why": 1})

@handler("t.later")
def later(ctx):
    raise RetryableError("later", retry_after=2)

@handler("t.ask")
def ask(ctx):
    return {"parent": ctx.ancestor_result("parent"), "saved": ctx.save_checkpoint(1, 1)}

@handler("t.nan")
def nan(ctx):
    return float("nan")

@handler("t.klass")
class Counter:
    def __init__(self):
        self.calls = 0
    def call(self, ctx):
        self.calls += 1
        return self.calls
"""

STEP = {"task_uuid": "u", "step_name": "s", "context": {"n": 5}, "initialization": {}, "dependency_results": {},
        "attempt": 1, "deadline": "2030-01-01T00:00:00.000Z"}


def run_once(tmp_path, callable_name, extra_env=None):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    env = {**child_env(), "TASKER_CALLABLE": callable_name, **(extra_env or {})}
    env.pop("TASKER_PERSISTENT_PROTOCOL", None)
    return subprocess.run([sys.executable, "-m", "tasker.worker", "handlers"], input=json.dumps(STEP), text=True,
                          capture_output=True, cwd=tmp_path, env=env, timeout=60)


def test_one_attempt_per_process_exits_0_10_or_11(tmp_path):
    ok = run_once(tmp_path, "t.echo")
    assert ok.returncode == 0 and json.loads(ok.stdout)["n"] == 5
    assert "a log line" in ok.stderr  # print() goes to stderr, never into the result
    fail = run_once(tmp_path, "t.fail")
    assert fail.returncode == 10 and json.loads(fail.stdout) == {"message": "no", "context": {"why": 1}}
    later = run_once(tmp_path, "t.later")
    assert later.returncode == 11 and json.loads(later.stdout)["retry_after_ms"] == 2000
    nan = run_once(tmp_path, "t.nan")
    assert nan.returncode == 10 and "not JSON" in json.loads(nan.stdout)["message"]
    missing = run_once(tmp_path, "t.nothing")
    assert missing.returncode == 10 and "registered: t.ask" in json.loads(missing.stdout)["message"]


def test_persistent_mode_answers_attempt_after_attempt_and_forwards_requests(tmp_path):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    env = {**child_env(), "TASKER_PERSISTENT_PROTOCOL": "1"}
    p = subprocess.Popen([sys.executable, "-m", "tasker.worker", "handlers"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env, text=True)

    def send(message):
        p.stdin.write(json.dumps(message) + "\n")
        p.stdin.flush()

    def read():
        return json.loads(p.stdout.readline())

    assert read() == {"type": "ready", "protocol": 1}
    send({"type": "attempt", "id": 1, "callable": "t.echo", "input": STEP})
    first = read()
    assert first["type"] == "result" and first["id"] == 1 and first["result"]["n"] == 5
    send({"type": "attempt", "id": 2, "callable": "t.ask", "input": STEP})
    request = read()
    assert request == {"type": "request", "id": 2, "request_id": 1, "request": {"step_result": "parent"}}
    send({"type": "reply", "id": 2, "request_id": 1, "reply": {"ok": True, "result": {"x": 1}}})
    request = read()
    assert request["request_id"] == 2 and request["request"]["save_checkpoint"]["cursor"] == 1
    send({"type": "reply", "id": 2, "request_id": 2, "reply": {"ok": True, "saved": True}})
    assert read() == {"type": "result", "id": 2, "result": {"parent": {"x": 1}, "saved": True}}
    send({"type": "attempt", "id": 3, "callable": "t.fail", "input": STEP})
    assert read() == {"type": "failure", "id": 3, "retryable": False, "message": "no", "context": {"why": 1}}
    for attempt_id in (4, 5):  # a class handler is made once per process
        send({"type": "attempt", "id": attempt_id, "callable": "t.klass", "input": STEP})
        assert read()["result"] == attempt_id - 3
    p.stdin.close()
    assert p.wait(timeout=30) == 0  # EOF: it exits
    assert "a log line" in p.stderr.read()


def test_a_module_that_fails_to_import_exits_with_its_traceback(tmp_path):
    (tmp_path / "handlers.py").write_text("import no_such_module\n")
    env = {**child_env(), "TASKER_PERSISTENT_PROTOCOL": "1"}
    p = subprocess.run([sys.executable, "-m", "tasker.worker", "handlers"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, input="", timeout=60)
    assert p.returncode != 0 and p.stdout == "" and "No module named 'no_such_module'" in p.stderr
    assert os.path.isdir(SRC)
