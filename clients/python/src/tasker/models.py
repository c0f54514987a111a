"""What tasker's HTTP API answers, as dataclasses (docs/api.md). Each keeps the
whole answer in ``raw``, so a field this package does not name is still there."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from .errors import StepFailure

FINISHED_STATES = frozenset({"complete", "error", "cancelled", "resolved_manually"})


def _time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclasses.dataclass(frozen=True)
class Step:
    """A step (StepResponse)."""

    uuid: str
    task_uuid: str
    name: str
    state: str
    attempts: int
    max_attempts: int
    result: Any
    error: StepFailure | None  # the last failure, kept after a later success
    callable: str | None
    dependencies: list[str]
    created_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Step:
        return cls(uuid=d.get("step_uuid") or d.get("workflow_step_uuid") or "", task_uuid=d.get("task_uuid", ""),
                   name=d.get("name", ""), state=d.get("current_state", ""), attempts=int(d.get("attempts") or 0),
                   max_attempts=int(d.get("max_attempts") or 0), result=d.get("result"),
                   error=StepFailure.from_json(d.get("error")), callable=d.get("callable"),
                   dependencies=list(d.get("dependencies") or []), created_at=_time(d.get("created_at")),
                   completed_at=_time(d.get("completed_at")), raw=d)


@dataclasses.dataclass(frozen=True)
class Task:
    """A task (TaskResponse); ``steps`` only when read one at a time (``Client.get``)."""

    uuid: str
    namespace: str
    name: str
    version: str
    status: str
    context: dict[str, Any]
    initiator: str | None
    source_system: str | None
    reason: str | None
    priority: int
    tags: list[str]
    correlation_id: str | None
    total_steps: int
    completed_steps: int
    failed_steps: int
    created_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    steps: list[Step] | None
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Whether nothing will run any more without an operator (complete, error, cancelled, resolved_manually)."""
        return self.status in FINISHED_STATES

    def step(self, name: str) -> Step:
        """One of ``steps`` by name; KeyError when absent (or when the task was listed without steps)."""
        for s in self.steps or []:
            if s.name == name:
                return s
        raise KeyError(f"task {self.uuid} has no step `{name}` here")

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        steps = d.get("steps")
        return cls(uuid=d.get("task_uuid", ""), namespace=d.get("namespace", ""), name=d.get("name", ""),
                   version=d.get("version", ""), status=d.get("status", ""), context=d.get("context") or {},
                   initiator=d.get("initiator"), source_system=d.get("source_system"), reason=d.get("reason"),
                   priority=int(d.get("priority") or 0), tags=list(d.get("tags") or []),
                   correlation_id=d.get("correlation_id"), total_steps=int(d.get("total_steps") or 0),
                   completed_steps=int(d.get("completed_steps") or 0), failed_steps=int(d.get("failed_steps") or 0),
                   created_at=_time(d.get("created_at")), completed_at=_time(d.get("completed_at")),
                   steps=[Step.from_json(s) for s in steps] if isinstance(steps, list) else None, raw=d)


@dataclasses.dataclass(frozen=True)
class TaskPage:
    """One page of ``Client.list``."""

    tasks: list[Task]
    page: int
    per_page: int
    total_count: int
    total_pages: int
    has_next: bool

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskPage:
        p = d.get("pagination") or {}
        return cls([Task.from_json(t) for t in d.get("tasks") or []], int(p.get("page") or 1),
                   int(p.get("per_page") or 0), int(p.get("total_count") or 0), int(p.get("total_pages") or 0),
                   bool(p.get("has_next")))


@dataclasses.dataclass(frozen=True)
class Transition:
    """One recorded state change of a task (``step_name`` None) or a step: the audit trail."""

    task_uuid: str
    step_uuid: str | None
    step_name: str | None
    from_state: str | None
    to_state: str
    recorded_at: datetime.datetime | None
    worker_id: str | None
    reason: str | None
    attempt: int | None
    raw: dict[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Transition:
        return cls(task_uuid=d.get("task_uuid", ""), step_uuid=d.get("workflow_step_uuid"),
                   step_name=d.get("step_name"), from_state=d.get("from_state"), to_state=d.get("to_state", ""),
                   recorded_at=_time(d.get("recorded_at")), worker_id=d.get("worker_id"), reason=d.get("reason"),
                   attempt=d.get("attempt"), raw=d)
