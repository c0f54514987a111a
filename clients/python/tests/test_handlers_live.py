"""Python handlers run by a real `tasker worker`, tasks submitted through a real `tasker serve`."""

import time

import tasker
from conftest import run_id, unique


def test_persistent_handlers_run_a_diamond_in_long_lived_processes(client):
    task = client.wait(client.submit("py", "squares", {"run": run_id(), "n": 7}).uuid, timeout=120)
    assert task.status == "complete", task.raw
    square = task.step("square").result
    assert square["n"] == 49 and square["from"] == []
    assert task.step("add_left").result["n"] == 50
    assert task.step("add_right").result["n"] == 51
    total = task.step("total").result
    assert total == {"n": 101, "from": ["add_left", "add_right"], "pid": total["pid"]}
    # Four steps, at most two processes (the worker's concurrency): processes served several attempts.
    pids = {task.step(name).result["pid"] for name in ("square", "add_left", "add_right", "total")}
    assert 1 <= len(pids) <= 2
    # A second task finds the same processes waiting: still no more than two in all.
    second = client.wait(client.submit("py", "squares", {"run": run_id(), "n": 3}).uuid, timeout=120)
    assert second.step("total").result["n"] == 21
    assert len(pids | {second.step(n).result["pid"] for n in ("square", "add_left", "add_right", "total")}) <= 2


def test_without_persistent_each_attempt_is_a_process_of_its_own(client):
    task = client.wait(client.submit("py", "squares_per_attempt", unique()).uuid, timeout=120)
    assert task.status == "complete", task.raw
    assert task.step("square").result["pid"] != task.step("again").result["pid"]


def test_retries_checkpoints_and_ancestors(client):
    task = client.wait(client.submit("py", "failures", unique()).uuid, timeout=120)
    assert task.status == "complete", task.raw
    flaky = task.step("flaky")
    assert flaky.result == {"attempt": 2, "previous": "the gateway timed out"}
    assert flaky.attempts == 2
    assert flaky.error is not None and flaky.error.error_type == "retryable_error"
    assert flaky.error.context["gateway"] == "test"
    assert task.step("resumes").result == {"resumed_from": 5, "sum_so_far": 15}
    assert task.step("reads_ancestor").result == {"flaky": 2, "parent": {"level": 2}}


def test_permanent_errors_and_exceptions(client):
    task = client.wait(client.submit("py", "permanent", unique()).uuid, timeout=120)
    assert task.status == "error"
    declined = task.step("declined")
    assert declined.state == "error" and declined.attempts == 1  # no retry
    assert declined.error.message == "card declined by the issuer"
    assert declined.error.error_type == "permanent_error"
    assert declined.error.context["decline_code"] == "do_not_honor"
    broken = task.step("broken")
    assert broken.error.error_type == "KeyError" and broken.error.retryable
    assert "KeyError: 'missing'" in broken.error.message
    assert "Traceback" in broken.error.context["stderr"]


def test_a_decision_creates_the_branch_it_names(client):
    task = client.wait(client.submit("py", "routing", {"run": run_id(), "amount": 500}).uuid, timeout=120)
    assert task.status == "complete", task.raw
    assert [s.name for s in task.steps] == ["start", "choose", "large"]
    assert task.step("choose").result["chosen_at"] == 1
    assert task.step("large").result == {"branch": "large"}


def test_batches_from_a_class_handler(client):
    task = client.wait(client.submit("py", "batched", {"run": run_id(), "items": 60}).uuid, timeout=120)
    assert task.status == "complete", task.raw
    assert sorted(s.name for s in task.steps if s.name.startswith("sum_range_")) == [
        "sum_range_001", "sum_range_002", "sum_range_003"]
    assert task.step("combine").result == {"batches": 3, "sum": sum(range(60))}


def test_cancel_stops_a_running_persistent_attempt(client):
    task = client.submit("py", "slow", {"run": run_id(), "seconds": 120})
    for _ in range(1200):
        if client.step(task.uuid, "wait").state == "in_progress":
            break
        time.sleep(0.05)
    cancelled = client.cancel(task.uuid, reason="not needed")
    assert cancelled.status == "cancelled"
    assert client.wait(task.uuid, timeout=60).step("wait").state == "cancelled"
    # The worker still serves attempts afterwards.
    assert client.wait(client.submit("py", "squares", {"run": run_id(), "n": 2}).uuid, timeout=120).status == "complete"
    assert isinstance(task, tasker.Task)
