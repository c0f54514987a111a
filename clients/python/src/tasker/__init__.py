"""tasker for Python: step handlers served to a tasker worker, and a client for
tasker's HTTP API. Standard library only.

    from tasker import handler, PermanentError, RetryableError

    @handler("py.square")
    def square(ctx):
        return {"n": ctx.context["n"] ** 2}

Templates run them with ``command: [python3, -m, tasker.worker, handlers]``
(``persistent: true`` keeps the process up between attempts).
"""

from typing import TYPE_CHECKING, Any

from .errors import (
    ApiError,
    DuplicateTaskError,
    Error,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    PermanentError,
    ProtocolError,
    RetryableError,
    ServerUnreachableError,
    StepFailure,
    TransientStorageError,
    UnauthorizedError,
    WaitTimeoutError,
)
from .handlers import BatchCursor, Checkpoint, Context, StepHandler, handler
from .outcomes import (
    ApiMixin,
    Batchable,
    DecisionMixin,
    batches,
    cursor_ranges,
    decision,
    error_for_status,
    no_batches,
    no_branches,
    raise_for_status,
)

if TYPE_CHECKING:
    from .client import Client
    from .models import Step, Task, TaskPage, Transition

__version__ = "0.1.0"

_LAZY = {"Client": "client", "Step": "models", "Task": "models", "TaskPage": "models", "Transition": "models"}


def __getattr__(name: str) -> Any:
    # The HTTP client (urllib, ssl) is imported when first used: a handler process starts faster without it.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'tasker' has no attribute {name!r}")

__all__ = [
    "ApiError", "ApiMixin", "BatchCursor", "Batchable", "Checkpoint", "Client", "Context", "DecisionMixin",
    "DuplicateTaskError", "Error", "ForbiddenError", "InvalidRequestError", "NotFoundError", "PermanentError",
    "ProtocolError", "RetryableError", "ServerUnreachableError", "Step", "StepFailure",
    "StepHandler", "Task", "TaskPage", "Transition", "TransientStorageError", "UnauthorizedError",
    "WaitTimeoutError", "batches", "cursor_ranges", "decision", "error_for_status", "handler", "no_batches",
    "no_branches", "raise_for_status",
]
