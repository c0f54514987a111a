"""The dynamic workflows' handlers (tests/e2e/templates/dynamic_workflows.yaml)
for the command handler kind: the same logic as tests/e2e/dynamic_handlers.cpp
(keep the two in step). Imported by e2e_handlers.py, which runs them.

Checkpoints and the results of ancestors that are not dependencies go through
tasker's request channel (docs/handlers.md, "Asking the worker"): JSON lines
written to TASKER_REQUEST_FD, each answered by one line on TASKER_REPLY_FD.
"""
import json
import os
import time

from e2e_common import Permanent, Retryable, marker

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")

_channel = None


def ask(request):
    """One request to the worker, one answer back."""
    global _channel
    if _channel is None:
        _channel = (os.fdopen(int(os.environ["TASKER_REQUEST_FD"]), "w", buffering=1),
                    os.fdopen(int(os.environ["TASKER_REPLY_FD"]), "r"))
    _channel[0].write(json.dumps(request) + "\n")
    answer = json.loads(_channel[1].readline())
    if not answer.get("ok"):
        error = answer.get("error", "the worker refused the request")
        raise (Permanent if answer.get("permanent") else Retryable)(error)
    return answer


def ancestor_result(step, name):
    if name in step["dependency_results"]:
        return step["dependency_results"][name]
    return ask({"step_result": name})["result"]


def save_checkpoint(cursor, items_processed, accumulated_results):
    return ask({"save_checkpoint": {"cursor": cursor, "items_processed": items_processed,
                                    "accumulated_results": accumulated_results}})["saved"]


def decision(steps):
    if not steps:
        return {"decision_point_outcome": {"type": "no_branches"}}
    return {"decision_point_outcome": {"type": "create_steps", "step_names": steps}}


def cursors(total, size):
    out = []
    for k, start in enumerate(range(0, total, size), start=1):
        end = min(total, start + size)
        out.append({"batch_id": f"{k:03}", "start_cursor": start, "end_cursor": end, "batch_size": end - start})
    return out


def batches(worker, total, size):
    if total == 0:
        return {"batch_processing_outcome": {"type": "no_batches"}}
    c = cursors(total, size)
    return {"batch_processing_outcome": {"type": "create_batches", "worker_template_name": worker,
                                         "worker_count": len(c), "total_items": total, "cursor_configs": c}}


def read_products(name):
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        raise Permanent(f"cannot read {name}", {"csv": name})
    with open(path) as f:
        lines = f.read().splitlines()[1:]
    rows = []
    for line in lines:
        _, _, category, price, quantity = line.split(",")
        rows.append((category, int(price), int(quantity)))
    return rows


def sum_instances(results, worker, fields):
    totals = {f: 0 for f in fields}
    count = 0
    for name, result in results.items():
        if not name.startswith(worker + "_"):
            continue
        count += 1
        for f in fields:
            totals[f] += result.get(f, 0)
    totals["batches"] = count
    return totals


def approval_validate(s):
    amount = s["context"].get("amount")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
        raise Permanent("the request has no amount")
    return {"amount": amount, "valid": True}


def approval_route(s):
    amount = s["dependency_results"]["validate_request"]["amount"]
    if "invalid_branch" in s["context"]:
        out = decision([s["context"]["invalid_branch"]])
    elif amount <= 0:
        out = decision([])
    elif amount < 1000:
        out = decision(["auto_approve"])
    elif amount < 5000:
        out = decision(["manager_approval"])
    else:
        out = decision(["manager_approval", "finance_review"])
    out["amount"] = float(amount)
    return out


def approval_finalize(s):
    deps = s["dependency_results"]
    approvers = [deps[b]["approver"] for b in ("auto_approve", "manager_approval", "finance_review") if b in deps]
    return {"approved": True, "approvers": approvers, "amount": ancestor_result(s, "validate_request")["amount"]}


def approval_by_signal(s):
    approved = s["dependency_results"]["manager_approval"].get("approved", False)
    return decision(["grant" if approved is True else "reject"])


def csv_analyze(s):
    rows = len(read_products(s["context"].get("csv", "products.csv")))
    if "row_limit" in s["context"]:
        rows = min(rows, s["context"]["row_limit"])
    out = batches("process_csv_batch", rows, s["initialization"].get("batch_size", 200))
    out["total_rows"] = rows
    return out


def csv_process_batch(s):
    cursor = s["initialization"]["cursor"]
    out = {"batch_id": cursor["batch_id"], "count": 0, "value_cents": 0, "quantity": 0}
    if s["initialization"].get("is_no_op"):
        return out
    rows = read_products(s["context"].get("csv", "products.csv"))
    for category, price, quantity in rows[cursor["start_cursor"]:cursor["end_cursor"]]:
        out["count"] += 1
        out["value_cents"] += price * quantity
        out["quantity"] += quantity
    return out


def csv_aggregate(s):
    analyze = s["dependency_results"]["analyze_csv"]  # a grandparent: convergence steps get every ancestor
    out = sum_instances(s["dependency_results"], "process_csv_batch", ["count", "value_cents", "quantity"])
    out["no_batches"] = analyze["batch_processing_outcome"]["type"] == "no_batches"
    out["total_rows"] = analyze["total_rows"]
    return out


def items_plan(s):
    n = s["context"].get("items", 100)
    return batches("process_items", n, n)


def items_process(s):
    cursor = s["initialization"]["cursor"]
    checkpoint = s.get("checkpoint")
    start = checkpoint["cursor"] if checkpoint else cursor["start_cursor"]
    total = checkpoint["accumulated_results"] if checkpoint else 0
    ctx = s["context"]
    every, fail_after, item_ms = ctx.get("checkpoint_every", 10), ctx.get("fail_after", 0), ctx.get("item_ms", 0)
    hold_at = ctx.get("hold_at", -1)  # the first attempt stops here until its worker is killed
    done = 0
    for i in range(start, cursor["end_cursor"]):
        while s["attempt"] == 1 and i == hold_at:
            time.sleep(0.02)
        with open(marker(s, "processed"), "a") as f:
            f.write(f"{i}\n")
        total += i
        done += 1
        if item_ms:
            time.sleep(item_ms / 1000.0)
        if (i + 1 - start) % every == 0 and not save_checkpoint(i + 1, i + 1, total):
            raise Retryable("the claim was lost")
        if s["attempt"] == 1 and fail_after and done == fail_after:
            raise Retryable(f"failing after {done} items", {"checkpoint_progress": i + 1})
    previous = (s.get("previous_error") or {}).get("context", {}).get("checkpoint_progress")
    return {"sum": total, "resumed_from": start, "attempt": s["attempt"], "previous_checkpoint_progress": previous}


def ddb_filter(s):
    even = s["initialization"]["keep"] == "even"
    numbers = s["dependency_results"]["ddb_diamond_start"]["numbers"]
    return {"values": [n for n in numbers if (n % 2 == 0) == even]}


def ddb_route(s):
    evens = len(s["dependency_results"]["branch_evens"]["values"])
    odds = len(s["dependency_results"]["branch_odds"]["values"])
    create = []
    if evens >= odds:
        create.append("even_batch_analyzer")
    if odds >= evens:
        create.append("odd_batch_analyzer")
    return decision(create)


def ddb_analyze(s):
    values = ancestor_result(s, s["initialization"]["source"])["values"]  # two levels up: read by name
    return batches(s["initialization"]["worker_template_name"], len(values), s["context"].get("batch_size", 2))


def ddb_sum_batch(s):
    values = ancestor_result(s, s["initialization"]["source"])["values"]
    cursor = s["initialization"]["cursor"]
    return {"sum": sum(values[cursor["start_cursor"]:cursor["end_cursor"]])}


HANDLERS = {
    "approval.validate": approval_validate,
    "approval.route": approval_route,
    "approval.approve": lambda s: {"approved": True, "approver": s["initialization"]["approver"]},
    "approval.finalize": approval_finalize,
    "approval.by_signal": approval_by_signal,
    "csv.analyze": csv_analyze,
    "csv.process_batch": csv_process_batch,
    "csv.aggregate": csv_aggregate,
    "items.plan": items_plan,
    "items.process": items_process,
    "items.sum": lambda s: {"total": s["dependency_results"]["process_items_001"]["sum"]},
    "ddb.start": lambda s: {"numbers": s["context"]["numbers"]},
    "ddb.filter": ddb_filter,
    "ddb.route": ddb_route,
    "ddb.analyze": ddb_analyze,
    "ddb.sum_batch": ddb_sum_batch,
    "ddb.aggregate": lambda s: sum_instances(s["dependency_results"], s["initialization"]["worker"], ["sum"]),
}
