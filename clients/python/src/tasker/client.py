"""A client for tasker's HTTP API (``tasker serve``; docs/api.md): submit, read,
list, cancel, act on steps and wait, with API keys and TLS. Errors are ApiError
subclasses carrying the API's status, code and message."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import ServerUnreachableError, WaitTimeoutError, api_error
from .models import Step, Task, TaskPage, Transition


class Client:
    """One tasker service. Thread-safe (each call is its own request).

    ``api_key`` is sent as a bearer token; for HTTPS, ``ca_file`` names the CA
    (or self-signed certificate) to trust, or pass a whole ``ssl_context``.
    """

    def __init__(self, url: str, api_key: str | None = None, *, ca_file: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"the server URL must be http://HOST:PORT or https://HOST:PORT, not {url!r}")
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._ssl = ssl_context
        if self._ssl is None and parsed.scheme == "https":
            self._ssl = ssl.create_default_context(cafile=ca_file)

    # --- tasks -----------------------------------------------------------------

    def submit(self, namespace: str, name: str, context: dict[str, Any] | None = None, *,
               version: str | None = None, initiator: str | None = None, source_system: str | None = None,
               reason: str | None = None, tags: list[str] | None = None, priority: int | None = None,
               idempotency_key: str | None = None, correlation_id: str | None = None,
               bypass_steps: list[str] | None = None) -> Task:
        """Create a task from a template; DuplicateTaskError (409) when one with its identity exists."""
        body: dict[str, Any] = {"namespace": namespace, "name": name, "context": context or {}}
        optional = {"version": version, "initiator": initiator, "source_system": source_system, "reason": reason,
                    "tags": tags, "priority": priority, "idempotency_key": idempotency_key,
                    "correlation_id": correlation_id, "bypass_steps": bypass_steps}
        body.update({k: v for k, v in optional.items() if v is not None})
        return Task.from_json(self._call("POST", "/v1/tasks", body=body))

    def get(self, task_uuid: str) -> Task:
        """The task with its steps."""
        return Task.from_json(self._call("GET", f"/v1/tasks/{_seg(task_uuid)}"))

    def list(self, *, namespace: str | None = None, status: str | None = None, name: str | None = None,
             initiator: str | None = None, source_system: str | None = None, page: int = 1,
             per_page: int = 25) -> TaskPage:
        """Tasks, newest first, one page at a time."""
        query = {"namespace": namespace, "status": status, "name": name, "initiator": initiator,
                 "source_system": source_system, "page": page, "per_page": per_page}
        return TaskPage.from_json(self._call("GET", "/v1/tasks", query=query))

    def cancel(self, task_uuid: str, reason: str | None = None) -> Task:
        """Cancel every unfinished step; InvalidRequestError when the task has ended."""
        return Task.from_json(self._call("DELETE", f"/v1/tasks/{_seg(task_uuid)}", query={"reason": reason}))

    def wait(self, task_uuid: str, timeout: float = 60.0, poll_interval: float = 0.2) -> Task:
        """Poll until the task is finished (complete, error, cancelled, resolved_manually);
        WaitTimeoutError (a TimeoutError) after ``timeout`` seconds."""
        give_up = time.monotonic() + timeout
        while True:
            task = self.get(task_uuid)
            if task.finished:
                return task
            if time.monotonic() >= give_up:
                raise WaitTimeoutError(f"task {task_uuid} is still {task.status} after {timeout} s")
            time.sleep(min(poll_interval, max(0.0, give_up - time.monotonic())))

    # --- steps -----------------------------------------------------------------

    def steps(self, task_uuid: str) -> list[Step]:
        """The task's steps in template order."""
        return [Step.from_json(s) for s in self._call("GET", f"/v1/tasks/{_seg(task_uuid)}/workflow_steps")]

    def step(self, task_uuid: str, step: str) -> Step:
        """One step, by its uuid or its name."""
        return Step.from_json(self._call("GET", f"/v1/tasks/{_seg(task_uuid)}/workflow_steps/{_seg(step)}"))

    def audit(self, task_uuid: str, step: str | None = None) -> list[Transition]:
        """The recorded transitions, oldest first: the task's and every step's, or one step's."""
        path = (f"/v1/tasks/{_seg(task_uuid)}/transitions" if step is None
                else f"/v1/tasks/{_seg(task_uuid)}/workflow_steps/{_seg(step)}/audit")
        return [Transition.from_json(t) for t in self._call("GET", path)]

    def reset_step(self, task_uuid: str, step: str, reason: str = "", by: str = "") -> Step:
        """Give a failed step a fresh set of attempts."""
        return self._act(task_uuid, step, {"action_type": "reset_for_retry", "reason": reason, "reset_by": by})

    def resolve_step(self, task_uuid: str, step: str, reason: str = "", by: str = "") -> Step:
        """Mark a step done without a result; its dependents run."""
        return self._act(task_uuid, step, {"action_type": "resolve_manually", "reason": reason, "resolved_by": by})

    def complete_step(self, task_uuid: str, step: str, result: Any, reason: str = "", by: str = "") -> Step:
        """Mark a step complete with the result its dependents will see."""
        return self._act(task_uuid, step, {"action_type": "complete_manually", "reason": reason,
                                           "completion_data": {"result": result}, "completed_by": by})

    # --- the rest ----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """GET /health/ready: the server and its database answer (ApiError 503 otherwise)."""
        return self._call("GET", "/health/ready")

    def _act(self, task_uuid: str, step: str, body: dict[str, Any]) -> Step:
        body = {k: v for k, v in body.items() if v != ""}
        return Step.from_json(self._call("PATCH", f"/v1/tasks/{_seg(task_uuid)}/workflow_steps/{_seg(step)}",
                                         body=body))

    def _call(self, method: str, path: str, *, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        url = self.url + path
        if query:
            pairs = {k: str(v) for k, v in query.items() if v is not None}
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as answer:
                text = answer.read()
        except urllib.error.HTTPError as e:
            raise _error_of(e) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerUnreachableError(f"{method} {url}: the server could not be reached: {reason}") from e
        return json.loads(text) if text.strip() else None


def _seg(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def _error_of(e: urllib.error.HTTPError) -> Exception:
    text = e.read()
    try:
        doc = json.loads(text)
        error = doc["error"]
        code, message = str(error.get("code", "")), str(error.get("message", ""))
        details = {k: v for k, v in error.items() if k not in ("code", "message")}
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message, details = f"HTTP_{e.code}", text[:500].decode("utf-8", "replace") or str(e.reason), {}
    retry_after = e.headers.get("Retry-After") if e.headers else None
    if retry_after and retry_after.strip().isdigit():
        details["retry_after"] = int(retry_after)
    return api_error(e.code, code, message, details)
