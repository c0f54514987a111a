#!/usr/bin/env python3
"""process_payment: charge the cart total. A stand-in gateway: tok_declined is
declined (permanent), tok_flaky times out on the first attempt (retryable)."""
import hashlib

from tasker_handler import PermanentError, RetryableError, dependency, log, run


def handle(step):
    init = step["initialization"]
    cart = dependency(step, "validate_cart")
    payment = step["context"]["payment_info"]
    expected = float(payment["amount"])
    if abs(expected - cart["total"]) > init["amount_tolerance"]:
        raise PermanentError(
            f"the customer expects to pay {expected:.2f} but the cart totals {cart['total']:.2f}",
            {"expected": expected, "total": cart["total"]})
    token = payment["token"]
    if token == "tok_declined":
        raise PermanentError("card declined by the issuer", {"decline_code": "do_not_honor"})
    if token == "tok_flaky" and step["attempt"] == 1:
        raise RetryableError("payment gateway timed out after 5 s", retry_after_ms=100, context={"gateway": init["gateway"]})
    log(f"charging {cart['total']:.2f} {cart['currency']} via {init['gateway']} (attempt {step['attempt']})")
    # The same task always gets the same payment id: a retried charge is idempotent at the gateway.
    payment_id = "pay_" + hashlib.sha256(step["task_uuid"].encode()).hexdigest()[:12]
    return {"payment_id": payment_id, "amount_charged": cart["total"], "currency": cart["currency"],
            "status": "captured", "attempt": step["attempt"]}


run(handle)
