#!/usr/bin/env python3
"""validate_cart: check every item exists and is in stock; price the cart."""
from catalogue import PRODUCTS
from tasker_handler import PermanentError, run


def handle(step):
    init = step["initialization"]
    context = step["context"]
    items = context.get("cart_items") or []
    if not items:
        raise PermanentError("the cart is empty: cart_items needs at least one item")
    lines = []
    for item in items:
        product = PRODUCTS.get(item["product_id"])
        if product is None:
            raise PermanentError(f"product {item['product_id']} does not exist", {"product_id": item["product_id"]})
        quantity = item["quantity"]
        if quantity < 1 or quantity > init["max_quantity_per_item"]:
            raise PermanentError(
                f"quantity {quantity} of product {item['product_id']} is outside 1..{init['max_quantity_per_item']}",
                {"product_id": item["product_id"], "quantity": quantity})
        if quantity > product["stock"]:
            raise PermanentError(f"only {product['stock']} of {product['name']} in stock",
                                 {"product_id": item["product_id"], "requested": quantity})
        lines.append({"product_id": item["product_id"], "name": product["name"], "quantity": quantity,
                      "unit_price": product["price"], "line_total": round(product["price"] * quantity, 2)})
    subtotal = round(sum(line["line_total"] for line in lines), 2)
    tax = round(subtotal * init["tax_rate"], 2)
    free = subtotal >= init["free_shipping_threshold"] or context["customer_info"].get("tier") == "platinum"
    shipping = 0.0 if free else init["flat_shipping_fee"]
    return {"items": lines, "subtotal": subtotal, "tax": tax, "shipping": shipping,
            "total": round(subtotal + tax + shipping, 2), "currency": init["currency"]}


run(handle)
