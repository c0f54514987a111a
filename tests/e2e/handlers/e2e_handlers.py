#!/usr/bin/env python3
"""The e2e suite's handlers as a command: `e2e_handlers.py CALLABLE`.

The same logic as tests/e2e/handlers.cpp (keep the two in step), speaking
tasker's command protocol (docs/handlers.md): the step input as JSON on stdin,
the result as JSON on stdout; exit 10 = permanent failure, 11 = retryable,
with {"message", "context", "retry_after_ms"} on stdout.
"""
import json
import math
import os
import sys
import time

from e2e_common import Permanent, Retryable, marker, touch
import dynamic_handlers


def dep(step, name):
    deps = step["dependency_results"]
    if name not in deps:
        raise Permanent(f"step `{step['step_name']}` has no dependency `{name}`", {"missing_dependency": name})
    return deps[name]


def square(v):
    return v * v  # Python integers are exact; tasker reads values past 64 bits as doubles


def sleep_cooperatively(step, ms):
    touch(marker(step, "started"))
    until = time.monotonic() + ms / 1000.0
    while time.monotonic() < until and not os.path.exists(marker(step, "release")):
        time.sleep(0.005)  # a timeout or cancel terminates this process group
    return {"slept": True, "attempt": step["attempt"]}


def price_of(product_id):
    return 10.0 * product_id + 0.99


def math_square(step):
    deps = step["dependency_results"]
    if len(deps) != 1:
        raise Permanent("math.square needs exactly one dependency")
    return square(next(iter(deps.values())))


def multiply_and_square(step):
    product = 1
    for value in step["dependency_results"].values():
        product *= value
    return square(product)


def validate_order(step):
    items = step["context"]["items"]
    if not items:
        raise Permanent("an order needs items")
    total = sum(float(i["unit_price"]) * float(i["quantity"]) for i in items)
    return {"order_id": "ORD-" + step["task_uuid"][:8], "total": total, "item_count": len(items)}


def reserve_inventory(step):
    order = dep(step, "validate_order")
    return {"reservation_id": "R-" + order["order_id"], "reserved_items": order["item_count"]}


def process_order_payment(step):
    order = dep(step, "validate_order")
    dep(step, "reserve_inventory")
    return {"payment_id": "P-" + order["order_id"], "amount_charged": order["total"]}


def ship_order(step):
    order = dep(step, "validate_order")
    return {"tracking_number": "T-" + order["order_id"],
            "reservation_id": dep(step, "reserve_inventory")["reservation_id"],
            "payment_id": dep(step, "process_payment")["payment_id"]}


def fail_n_times(step):
    fail_count = step["initialization"].get("fail_count", 2)
    if step["attempt"] <= fail_count:
        raise Retryable(f"planned failure {step['attempt']} of {fail_count}")
    return {"succeeded_on_attempt": step["attempt"]}


def validate_cart(step):
    items = step["context"]["cart_items"]
    if not items:
        raise Permanent("the cart is empty")
    subtotal = sum(price_of(i["product_id"]) * float(i["quantity"]) for i in items)
    tax = round(subtotal * step["initialization"].get("tax_rate", 0.08) * 100) / 100
    return {"subtotal": subtotal, "tax": tax, "total": subtotal + tax, "items": items}


def process_payment(step):
    cart = dep(step, "validate_cart")
    token = step["context"]["payment_info"]["token"]
    if token == "tok_invalid":
        raise Permanent("card declined: invalid card number", {"decline_code": "invalid_number"})
    if token == "tok_flaky" and step["attempt"] <= 2:
        raise Retryable(f"payment gateway timed out (attempt {step['attempt']})")
    return {"payment_id": "pay_" + step["task_uuid"][:8], "amount_charged": cart["total"], "attempt": step["attempt"]}


def update_inventory(step):
    dep(step, "process_payment")
    return {"updated_products": [{"product_id": i["product_id"], "reserved": i["quantity"]}
                                 for i in step["context"]["cart_items"]]}


def create_order(step):
    inventory = dep(step, "update_inventory")
    return {"order_number": "ORD-" + step["task_uuid"][:8], "line_count": len(inventory["updated_products"])}


def send_confirmation(step):
    order = dep(step, "create_order")
    return {"email_sent_to": step["context"]["customer_info"]["email"], "order_number": order["order_number"]}


def extract(step, records):
    if step["context"].get("fail_extract") == step["step_name"]:
        raise Permanent("source unavailable: " + step["step_name"], {"source": step["step_name"]})
    return {"records": records, "source": step["step_name"]}


def transform_metrics(step):
    total = sum(v.get("records", 0) for v in step["dependency_results"].values() if isinstance(v, dict))
    return {"total_records": total, "sources": len(step["dependency_results"])}


def generate_insights(step):
    total = dep(step, "transform_metrics")["total_records"]
    return {"insights": [f"{total} records analysed"], "total_records": total}


def fail_until_reset(step):
    failed_once = marker(step, "failed-once")
    if not os.path.exists(failed_once):
        touch(failed_once)
        raise Permanent("failing until an operator resets this step")
    return {"passed_after_reset": True}


def fail_permanently(step):
    raise Permanent("this step always fails permanently", {"reason": "test"})


def fail_retryably(step):
    raise Retryable(f"transient failure on attempt {step['attempt']}")


def slow_first_attempt(step):
    if step["attempt"] == 1:
        return sleep_cooperatively(step, step["context"].get("sleep_ms", 60000))
    return {"finished_on_attempt": step["attempt"]}


HANDLERS = {
    "math.square_input": lambda s: square(s["context"]["even_number"]),
    "math.square": math_square,
    "math.multiply_and_square": multiply_and_square,
    "order_fulfillment.validate_order": validate_order,
    "order_fulfillment.reserve_inventory": reserve_inventory,
    "order_fulfillment.process_payment": process_order_payment,
    "order_fulfillment.ship_order": ship_order,
    "errors.succeed": lambda s: {"status": "ok", "attempt": s["attempt"]},
    "waiting.plan_reminder": lambda s: {"remind_at": s["context"]["remind_at"]},
    "errors.fail_permanently": fail_permanently,
    "errors.fail_retryably": fail_retryably,
    "errors.fail_n_times": fail_n_times,
    "ecommerce.validate_cart": validate_cart,
    "ecommerce.process_payment": process_payment,
    "ecommerce.update_inventory": update_inventory,
    "ecommerce.create_order": create_order,
    "ecommerce.send_confirmation": send_confirmation,
    "data_pipeline.extract_users": lambda s: extract(s, 120),
    "data_pipeline.extract_orders": lambda s: extract(s, 340),
    "data_pipeline.extract_products": lambda s: extract(s, 56),
    "data_pipeline.transform_metrics": transform_metrics,
    "data_pipeline.generate_insights": generate_insights,
    "data_pipeline.update_dashboard": lambda s: {"dashboard": "updated",
                                                 "total_records": dep(s, "generate_insights")["total_records"]},
    "test.slow": lambda s: sleep_cooperatively(s, s["context"].get("sleep_ms", 30000)),
    "test.slow_first_attempt": slow_first_attempt,
    "test.fail_until_reset": fail_until_reset,
    **dynamic_handlers.HANDLERS,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in HANDLERS:
        print(f"usage: e2e_handlers.py CALLABLE (one of {', '.join(sorted(HANDLERS))})", file=sys.stderr)
        return 2
    step = json.load(sys.stdin)
    try:
        result = HANDLERS[sys.argv[1]](step)
    except Permanent as e:
        print(json.dumps({"message": str(e), "context": e.context}))
        return 10
    except Retryable as e:
        print(json.dumps({"message": str(e), "context": e.context}))
        return 11
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
