"""Results that ask tasker for more steps, and HTTP statuses as step failures.

A decision step's result names the branches to create; a batchable step's
result names cursor ranges, one batch worker instance each (docs/templates.md,
"Dynamic steps"). The mixins give class handlers the same helpers as methods,
under tasker-core's names (DecisionMixin, Batchable, ApiMixin).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import PermanentError, RetryableError


def decision(step_names: Sequence[str], **result: Any) -> dict[str, Any]:
    """A decision's result that creates ``step_names`` (none: ``no_branches``); ``result`` is kept beside it."""
    names = [str(n) for n in step_names]
    outcome: dict[str, Any] = {"type": "create_steps", "step_names": names} if names else {"type": "no_branches"}
    return {**result, "decision_point_outcome": outcome}


def no_branches(**result: Any) -> dict[str, Any]:
    """A decision's result that creates no branch."""
    return {**result, "decision_point_outcome": {"type": "no_branches"}}


def cursor_ranges(total_items: int, batch_size: int, start: int = 0) -> list[dict[str, Any]]:
    """Cursor configs covering ``start .. start + total_items`` in ranges of ``batch_size``, ids 001, 002, ..."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if total_items < 0:
        raise ValueError("total_items must not be negative")
    count = math.ceil(total_items / batch_size)
    width = max(3, len(str(count)))
    out = []
    for k in range(count):
        lo = start + k * batch_size
        hi = min(start + total_items, lo + batch_size)
        out.append({"batch_id": f"{k + 1:0{width}d}", "start_cursor": lo, "end_cursor": hi, "batch_size": hi - lo})
    return out


def batches(worker_template_name: str, total_items: int, batch_size: int, **result: Any) -> dict[str, Any]:
    """A batchable step's result: one ``worker_template_name`` instance per range (none: ``no_batches``)."""
    configs = cursor_ranges(total_items, batch_size)
    if not configs:
        return no_batches(**result)
    return {**result, "batch_processing_outcome": {
        "type": "create_batches", "worker_template_name": worker_template_name, "worker_count": len(configs),
        "total_items": total_items, "cursor_configs": configs}}


def no_batches(**result: Any) -> dict[str, Any]:
    """A batchable step's result that creates no instance (a no-op placeholder, when the template names one)."""
    return {**result, "batch_processing_outcome": {"type": "no_batches"}}


RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(status: int, message: str = "", *, headers: Mapping[str, str] | None = None,
                     context: Mapping[str, Any] | None = None) -> PermanentError | RetryableError | None:
    """The step failure an HTTP status means: None for 1xx-3xx; RetryableError for 408, 425, 429
    and 5xx (with the answer's Retry-After), PermanentError for other 4xx (tasker-core's API mixin)."""
    if status < 400:
        return None
    ctx = {"status": status, **dict(context or {})}
    text = message or f"the service answered HTTP {status}"
    if status in RETRYABLE_STATUSES or status >= 500:
        retry_after = None
        if headers is not None:
            retry_after = _retry_after_seconds({k.lower(): v for k, v in headers.items()}.get("retry-after"))
        return RetryableError(text, retry_after, ctx, error_type=f"http_{status}")
    return PermanentError(text, ctx, error_type=f"http_{status}")


def raise_for_status(status: int, message: str = "", *, headers: Mapping[str, str] | None = None,
                     context: Mapping[str, Any] | None = None) -> None:
    """Raise error_for_status's failure, if the status is one."""
    error = error_for_status(status, message, headers=headers, context=context)
    if error is not None:
        raise error


class DecisionMixin:
    """tasker-core's Decision mixin for class handlers."""

    def decision_success(self, step_names: Sequence[str], **result: Any) -> dict[str, Any]:
        return decision(step_names, **result)

    def skip_branches(self, **result: Any) -> dict[str, Any]:
        return no_branches(**result)


class Batchable:
    """tasker-core's Batchable mixin for class handlers."""

    def create_batches(self, worker_template_name: str, total_items: int, batch_size: int,
                       **result: Any) -> dict[str, Any]:
        return batches(worker_template_name, total_items, batch_size, **result)

    def no_batches(self, **result: Any) -> dict[str, Any]:
        return no_batches(**result)


class ApiMixin:
    """tasker-core's API mixin: JSON over HTTP whose error statuses fail the step as they should."""

    base_url: str = ""
    timeout: float = 30.0
    default_headers: Mapping[str, str] = {}

    def api_request(self, method: str, path: str, body: Any = None,
                    headers: Mapping[str, str] | None = None) -> Any:
        """Send ``body`` as JSON; return the answer's JSON (None when empty). Error statuses raise
        through error_for_status; a connection that fails is retryable."""
        import urllib.error
        import urllib.request

        url = self.base_url.rstrip("/") + "/" + path.lstrip("/") if self.base_url else path
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Accept": "application/json", **dict(self.default_headers), **dict(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method.upper(), headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:500].decode("utf-8", "replace")
            raise_for_status(e.code, f"{method.upper()} {url} answered {e.code}: {detail}",
                             headers=dict(e.headers.items()), context={"url": url})
            raise  # unreachable: every HTTPError is >= 400
        except (urllib.error.URLError, OSError) as e:
            raise RetryableError(f"{method.upper()} {url} failed: {e}", context={"url": url},
                                 error_type="connection_error") from e
        return json.loads(text) if text.strip() else None

    def api_get(self, path: str, headers: Mapping[str, str] | None = None) -> Any:
        return self.api_request("GET", path, headers=headers)

    def api_post(self, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        return self.api_request("POST", path, body, headers)
