#!/usr/bin/env python3
"""create_order: write the order record (customer, items, totals, payment)."""
from tasker_handler import dependency, run


def handle(step):
    init = step["initialization"]
    inventory = dependency(step, "update_inventory")
    customer = step["context"]["customer_info"]
    return {"order_number": f"{init['order_number_prefix']}-{step['task_uuid'][:8].upper()}",
            "status": init["initial_status"],
            "customer_id": customer["id"],
            "line_count": len(inventory["updated_products"]),
            "total": step["context"]["payment_info"]["amount"]}


run(handle)
