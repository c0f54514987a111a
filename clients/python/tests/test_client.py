"""The HTTP client against a real `tasker serve`: every call, typed answers, the API's errors, keys and TLS."""

import socket
import ssl
import uuid

import pytest

import tasker
from conftest import KEYS, run_id, unique


def test_submit_get_list_steps_and_audit(client):
    task = client.submit("py", "squares", {"run": run_id(), "n": 4}, initiator="pytest", source_system="suite", reason="a test",
                         tags=["py"], priority=5)
    assert isinstance(task, tasker.Task)
    assert (task.namespace, task.name, task.version) == ("py", "squares", "1.0.0")
    assert task.initiator == "pytest" and task.priority == 5 and task.tags == ["py"]
    done = client.wait(task.uuid, timeout=120)
    assert done.status == "complete" and done.finished and done.completed_at is not None
    assert [s.name for s in done.steps] == ["square", "add_left", "add_right", "total"]
    steps = client.steps(task.uuid)
    assert all(isinstance(s, tasker.Step) and s.state == "complete" for s in steps)
    assert client.step(task.uuid, "square").result["n"] == 16
    assert client.step(task.uuid, steps[0].uuid).name == "square"  # by uuid too
    audit = client.audit(task.uuid, "square")
    assert [t.to_state for t in audit][-1] == "complete" and all(t.step_name == "square" for t in audit)
    everything = client.audit(task.uuid)
    assert any(t.step_name is None for t in everything) and len(everything) > len(audit)
    page = client.list(namespace="py", initiator="pytest", per_page=5)
    assert isinstance(page, tasker.TaskPage) and page.total_count >= 1
    assert task.uuid in [t.uuid for t in page.tasks]


def test_operator_actions(client):
    task = client.wait(client.submit("py", "permanent", unique()).uuid, timeout=120)
    assert task.status == "error"
    resolved = client.resolve_step(task.uuid, "broken", reason="not needed", by="pytest")
    assert resolved.state == "resolved_manually"
    completed = client.complete_step(task.uuid, "declined", {"paid": "by hand"}, reason="phone", by="pytest")
    assert completed.state == "complete" and completed.result == {"paid": "by hand"}
    assert client.wait(task.uuid, timeout=60).status in ("complete", "resolved_manually")
    again = client.wait(client.submit("py", "permanent", unique()).uuid, timeout=120)
    reset = client.reset_step(again.uuid, "declined", reason="retry", by="pytest")
    assert reset.state in ("enqueued", "in_progress", "error")  # a fresh set of attempts (it fails again)


def test_errors_carry_the_api_code_and_message(client, service):
    with pytest.raises(tasker.NotFoundError) as missing:
        client.get(str(uuid.uuid4()))
    assert missing.value.status == 404 and missing.value.code == "NOT_FOUND"
    with pytest.raises(tasker.InvalidRequestError) as bad:
        client.get("not-a-uuid")
    assert bad.value.code == "INVALID_UUID"
    with pytest.raises(tasker.NotFoundError) as no_template:
        client.submit("py", "no_such_workflow", unique())
    assert "no_such_workflow" in no_template.value.message
    key = f"order-{uuid.uuid4()}"
    first = client.submit("py", "squares", {"run": run_id(), "n": 1}, idempotency_key=key)
    with pytest.raises(tasker.DuplicateTaskError) as dup:
        client.submit("py", "squares", {"run": run_id(), "n": 1}, idempotency_key=key)
    assert dup.value.status == 409 and dup.value.existing_task_uuid == first.uuid
    done = client.wait(first.uuid, timeout=120)
    with pytest.raises(tasker.InvalidRequestError):
        client.cancel(done.uuid)  # it has ended
    with pytest.raises(tasker.WaitTimeoutError):
        client.wait(client.submit("py", "slow", {"run": run_id(), "seconds": 1}).uuid, timeout=0.1)


def test_an_unreachable_server_is_its_own_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it closes
    with pytest.raises(tasker.ServerUnreachableError):
        tasker.Client(f"http://127.0.0.1:{port}", timeout=5).list()
    with pytest.raises(ValueError):
        tasker.Client("ftp://example")


def test_tls_and_api_keys(secure_service):
    assert secure_service.url.startswith("https://")
    admin = tasker.Client(secure_service.url, KEYS["admin"], ca_file=secure_service.cert)
    task = admin.submit("py", "squares", {"run": run_id(), "n": 2})
    reader = tasker.Client(secure_service.url, KEYS["reader"], ca_file=secure_service.cert)
    assert reader.get(task.uuid).uuid == task.uuid
    with pytest.raises(tasker.ForbiddenError) as forbidden:
        reader.cancel(task.uuid)
    assert forbidden.value.code == "FORBIDDEN"
    with pytest.raises(tasker.UnauthorizedError) as anonymous:
        tasker.Client(secure_service.url, ca_file=secure_service.cert).get(task.uuid)
    assert anonymous.value.status == 401
    with pytest.raises(tasker.ServerUnreachableError) as untrusted:
        tasker.Client(secure_service.url, KEYS["admin"]).get(task.uuid)  # the self-signed certificate is not trusted
    assert isinstance(untrusted.value.__cause__.reason, ssl.SSLError) or "CERTIFICATE" in str(untrusted.value)
    assert admin.cancel(task.uuid).status == "cancelled"
