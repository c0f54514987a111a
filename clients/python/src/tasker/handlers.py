"""Step handlers: ``@handler("ns.callable")`` on a function or a class, and the
context each attempt gets (docs/handlers.md).

A function handler is called with a Context for each attempt. A class handler
is instantiated once per process (so a persistent process keeps what its
constructor opened) and its ``call(ctx)`` method runs each attempt. Either
returns the step's result (any JSON value) or raises PermanentError /
RetryableError.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .errors import PermanentError, StepFailure


class Channel(Protocol):
    """How a context reaches the worker: the per-attempt descriptors or the persistent channel."""

    def ask(self, request: dict[str, Any]) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What an earlier attempt saved with ``ctx.save_checkpoint``."""

    cursor: Any
    items_processed: int
    accumulated_results: Any
    saved_at: str


@dataclasses.dataclass(frozen=True)
class BatchCursor:
    """A batch worker instance's range (its ``handler.initialization.cursor``)."""

    batch_id: str
    start_cursor: Any
    end_cursor: Any
    batch_size: int
    is_no_op: bool


def _time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Context:
    """What one attempt sees: the step input (docs/handlers.md, "Input") and the worker's services."""

    def __init__(self, step_input: dict[str, Any], callable_name: str, channel: Channel | None):
        self.input: dict[str, Any] = step_input
        self.callable: str = callable_name
        self._channel = channel

    @property
    def task_uuid(self) -> str:
        return self.input["task_uuid"]

    @property
    def step_name(self) -> str:
        return self.input["step_name"]

    @property
    def context(self) -> dict[str, Any]:
        """The task's context, the JSON object it was submitted with."""
        return self.input.get("context") or {}

    @property
    def initialization(self) -> dict[str, Any]:
        """The step's ``handler.initialization`` from the template."""
        return self.input.get("initialization") or {}

    @property
    def dependency_results(self) -> dict[str, Any]:
        """The results of the step's direct dependencies, by step name."""
        return self.input.get("dependency_results") or {}

    @property
    def attempt(self) -> int:
        """1 for the first attempt."""
        return int(self.input.get("attempt", 1))

    @property
    def deadline(self) -> datetime.datetime | None:
        """When the attempt times out (UTC)."""
        return _time(self.input.get("deadline"))

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The last checkpoint an earlier attempt saved, or None: where a long step resumes."""
        c = self.input.get("checkpoint")
        if not isinstance(c, dict):
            return None
        return Checkpoint(c.get("cursor"), int(c.get("items_processed") or 0), c.get("accumulated_results"),
                          c.get("saved_at", ""))

    @property
    def previous_error(self) -> StepFailure | None:
        """Why the attempt before this one failed, on a retry."""
        return StepFailure.from_json(self.input.get("previous_error"))

    @property
    def batch(self) -> BatchCursor | None:
        """A batch worker instance's cursor range (None for other steps)."""
        c = self.initialization.get("cursor")
        if not isinstance(c, dict):
            return None
        return BatchCursor(str(c.get("batch_id", "")), c.get("start_cursor"), c.get("end_cursor"),
                           int(c.get("batch_size") or 0), bool(self.initialization.get("is_no_op")))

    def dependency_result(self, name: str) -> Any:
        """One direct dependency's result; PermanentError when ``name`` is not a dependency."""
        if name not in self.dependency_results:
            raise PermanentError(
                f"step `{self.step_name}` has no dependency `{name}` (its dependencies: "
                f"{', '.join(sorted(self.dependency_results)) or 'none'})", {"missing_dependency": name})
        return self.dependency_results[name]

    def ancestor_result(self, name: str) -> Any:
        """The result of any completed step of this task by name (a dependency, or one further up)."""
        if name in self.dependency_results:
            return self.dependency_results[name]
        return self._ask({"step_result": name})["result"]

    def save_checkpoint(self, cursor: Any, items_processed: int, accumulated_results: Any = None) -> bool:
        """Make progress durable before returning; the next attempt finds it in ``checkpoint``.

        False when the attempt no longer holds the step (lease lost, timed out): stop then.
        """
        answer = self._ask({"save_checkpoint": {"cursor": cursor, "items_processed": int(items_processed),
                                                "accumulated_results": accumulated_results}})
        return bool(answer.get("saved"))

    def heartbeat(self) -> None:
        """Renew the attempt's lease now (the worker renews it on its own too)."""
        self._ask({"heartbeat": True})

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._channel is None:
            raise RuntimeError("this context has no worker to ask (it was made outside `python3 -m tasker.worker`)")
        answer = self._channel.ask(request)
        if not answer.get("ok"):
            message = str(answer.get("error", "the worker refused the request"))
            if answer.get("permanent"):
                raise PermanentError(message)
            raise RuntimeError(message)  # retryable, as any unexpected exception
        return answer


HandlerFunction = Callable[[Context], Any]
T = TypeVar("T")

_REGISTRY: dict[str, HandlerFunction] = {}
_CLASSES: dict[str, type] = {}


def handler(name: str) -> Callable[[T], T]:
    """Register a function, or a class with a ``call(self, ctx)`` method, as the handler of ``name``.

    ``name`` is the step's ``handler.callable``. Registering a name twice is an error.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("@handler needs the callable's name, e.g. @handler(\"shop.charge\")")

    def register(target: T) -> T:
        if name in _REGISTRY:
            raise ValueError(f"a handler is already registered for `{name}`")
        if isinstance(target, type):
            if not callable(getattr(target, "call", None)):
                raise TypeError(f"handler class {target.__qualname__} for `{name}` needs a call(self, ctx) method")
            _CLASSES[name] = target
            instance: list[Any] = []

            def run(ctx: Context) -> Any:
                if not instance:  # made at the first attempt, then kept for the process's life
                    instance.append(target())
                return instance[0].call(ctx)

            _REGISTRY[name] = run
        elif callable(target):
            _REGISTRY[name] = target  # type: ignore[assignment]
        else:
            raise TypeError(f"@handler(\"{name}\") decorates a function or a class, not {target!r}")
        return target

    return register


def registered() -> dict[str, HandlerFunction]:
    """Every registered handler by callable (a copy)."""
    return dict(_REGISTRY)


def resolve(name: str) -> HandlerFunction:
    """The handler of ``name``; PermanentError naming the registered ones when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise PermanentError(f"no handler is registered for `{name}` (registered: {known}); add "
                             f"@handler(\"{name}\") to one of the modules given to tasker.worker",
                             {"callable": name}, error_type="handler_not_found") from None


class StepHandler:
    """An optional base for class handlers (tasker-core's StepHandler): override ``call``."""

    def call(self, ctx: Context) -> Any:
        raise NotImplementedError(f"{type(self).__qualname__}.call(ctx) is not written")
