#!/usr/bin/env python3
"""update_inventory: reserve stock for every purchased item."""
from catalogue import PRODUCTS
from tasker_handler import dependency, run


def handle(step):
    dependency(step, "process_payment")  # only paid orders take stock
    threshold = step["initialization"]["low_stock_threshold"]
    updated = []
    for item in step["context"]["cart_items"]:
        left = PRODUCTS[item["product_id"]]["stock"] - item["quantity"]
        updated.append({"product_id": item["product_id"], "reserved": item["quantity"], "left_in_stock": left,
                        "low_stock": left <= threshold})
    return {"warehouse": step["initialization"]["warehouse"], "updated_products": updated}


run(handle)
