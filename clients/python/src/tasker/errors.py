"""tasker's errors, named as in the C++ library (include/tasker/errors.hpp).

A handler fails its step by raising PermanentError (no retry) or RetryableError
(retried per the step's policy; ``retry_after`` overrides the backoff). Any other
exception is retryable too, as in C++. The HTTP client raises ApiError or one of
its subclasses, each carrying the API's status, code and message.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any


@dataclasses.dataclass(frozen=True)
class StepFailure:
    """Why an attempt failed, as the step records it (C++: tasker::StepFailure): a step's last error,
    and a retry's ``ctx.previous_error``."""

    message: str
    error_type: str
    retryable: bool
    context: dict[str, Any]

    @classmethod
    def from_json(cls, d: Any) -> StepFailure | None:
        if not isinstance(d, dict):
            return None
        return cls(str(d.get("message", "")), str(d.get("error_type", "")), bool(d.get("retryable")),
                   d.get("context") or {})


class Error(Exception):
    """Every error the package raises."""


class PermanentError(Error):
    """Fails the step without a retry (a per-attempt command exits 10)."""

    def __init__(self, message: str, context: dict[str, Any] | None = None, *, error_type: str | None = None):
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = dict(context or {})
        self.error_type = error_type


class RetryableError(Error):
    """Fails the attempt; the step is retried per its policy (a per-attempt command exits 11).

    ``retry_after`` (seconds, or a timedelta) replaces the template's backoff for this retry.
    """

    def __init__(
        self,
        message: str,
        retry_after: float | datetime.timedelta | None = None,
        context: dict[str, Any] | None = None,
        *,
        error_type: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        if isinstance(retry_after, datetime.timedelta):
            retry_after = retry_after.total_seconds()
        if retry_after is not None and (not isinstance(retry_after, (int, float)) or retry_after < 0):
            raise ValueError(f"retry_after must be a number of seconds >= 0, not {retry_after!r}")
        self.retry_after: float | None = retry_after
        self.context: dict[str, Any] = dict(context or {})
        self.error_type = error_type

    @property
    def retry_after_ms(self) -> int | None:
        return None if self.retry_after is None else int(round(self.retry_after * 1000))


class ProtocolError(Error):
    """The worker and this process disagree on the persistent protocol (docs/handlers.md)."""


class ApiError(Error):
    """An error answer of tasker's HTTP API: ``{"error": {"code", "message", ...}}``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class InvalidRequestError(ApiError):
    """400: a field of the wrong type or out of range, an action not allowed in the step's state, ..."""


class UnauthorizedError(ApiError):
    """401: no API key, or one the server does not know."""


class ForbiddenError(ApiError):
    """403: the key lacks the route's permission."""


class NotFoundError(ApiError):
    """404: an unknown task, step, template or route."""


class DuplicateTaskError(ApiError):
    """409: a task with the same identity exists; ``existing_task_uuid`` names it."""

    @property
    def existing_task_uuid(self) -> str | None:
        value = self.details.get("existing_task_uuid")
        return value if isinstance(value, str) else None


class TransientStorageError(ApiError):
    """503: the database did not answer; nothing changed, try again later (``retry_after``)."""

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, (int, float)) else None


class WaitTimeoutError(Error, TimeoutError):
    """Client.wait: the task did not reach an end state in time (also a builtin TimeoutError)."""


class ServerUnreachableError(Error, ConnectionError):
    """The server could not be reached (refused, reset, TLS failure): no answer came (also a builtin ConnectionError)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: DuplicateTaskError,
    503: TransientStorageError,
}


def api_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> ApiError:
    """The ApiError subclass for an HTTP status."""
    return _BY_STATUS.get(status, ApiError)(status, code, message, details)
