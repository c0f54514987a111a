"""Decision and batch outcomes, HTTP statuses as failures, errors' fields."""

import datetime

import pytest

from tasker import (PermanentError, RetryableError, batches, cursor_ranges, decision, error_for_status, no_batches,
                    no_branches, raise_for_status)


def test_decision_outcomes():
    assert decision(["a", "b"], score=3) == {"score": 3, "decision_point_outcome": {"type": "create_steps",
                                                                                    "step_names": ["a", "b"]}}
    assert decision([]) == {"decision_point_outcome": {"type": "no_branches"}}
    assert no_branches(why="none") == {"why": "none", "decision_point_outcome": {"type": "no_branches"}}


def test_batch_outcomes():
    assert cursor_ranges(5, 2) == [
        {"batch_id": "001", "start_cursor": 0, "end_cursor": 2, "batch_size": 2},
        {"batch_id": "002", "start_cursor": 2, "end_cursor": 4, "batch_size": 2},
        {"batch_id": "003", "start_cursor": 4, "end_cursor": 5, "batch_size": 1}]
    out = batches("process", 2500, 1000)["batch_processing_outcome"]
    assert out["type"] == "create_batches" and out["worker_template_name"] == "process"
    assert out["worker_count"] == 3 and out["total_items"] == 2500
    assert batches("process", 0, 10) == no_batches()
    assert len(cursor_ranges(1000, 1)[-1]["batch_id"]) == 4  # ids keep their order as text
    with pytest.raises(ValueError):
        cursor_ranges(10, 0)


def test_http_statuses_become_the_failure_they_mean():
    assert error_for_status(204) is None
    e = error_for_status(503, "busy", headers={"Retry-After": "7"})
    assert isinstance(e, RetryableError) and e.retry_after == 7 and e.context["status"] == 503
    assert isinstance(error_for_status(429), RetryableError)
    assert isinstance(error_for_status(408), RetryableError)
    assert error_for_status(429).retry_after is None
    p = error_for_status(404, "no such order", context={"order": 5})
    assert isinstance(p, PermanentError) and p.error_type == "http_404" and p.context == {"status": 404, "order": 5}
    with pytest.raises(PermanentError):
        raise_for_status(422)
    raise_for_status(200)


def test_retry_after_accepts_seconds_or_a_timedelta():
    assert RetryableError("x", retry_after=datetime.timedelta(seconds=1.5)).retry_after_ms == 1500
    assert RetryableError("x").retry_after_ms is None
    with pytest.raises(ValueError):
        RetryableError("x", retry_after=-1)
