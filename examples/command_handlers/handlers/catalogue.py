"""The shop's products (the same catalogue as examples/order_processing)."""

PRODUCTS = {
    1: {"name": "Mechanical keyboard", "price": 89.00, "stock": 25},
    2: {"name": "USB-C cable", "price": 9.50, "stock": 25},
    3: {"name": "27\" monitor", "price": 249.00, "stock": 25},
    4: {"name": "Laptop stand", "price": 39.90, "stock": 25},
    5: {"name": "Noise-cancelling headphones", "price": 179.00, "stock": 25},
}
