"""Sample order_svc and payment_svc answers for the order routes' unit tests.

Each service answer carries fields beyond the contract (top-level and nested): the
gateway must pass on exactly the contract's fields.
"""

from __future__ import annotations

USER_ID = "11111111-1111-4111-8111-111111111111"  # the make_token fixture's subject
OTHER_USER_ID = "22222222-2222-4222-8222-222222222222"
ORDER_ID = "33333333-3333-4333-8333-333333333333"
PAYMENT_ID = "44444444-4444-4444-8444-444444444444"

ITEM = {"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price_cents": 1250,
        "line_total_cents": 2500}
ORDER = {"id": ORDER_ID, "user_id": USER_ID, "status": "PENDING", "cancel_reason": None,
         "items": [ITEM], "total_cents": 2500, "currency": "USD", "payment": None,
         "shipment": None, "shipping_address": None,
         "created_at": "2024-05-01T12:00:00+00:00", "updated_at": "2024-05-01T12:00:00+00:00"}
ORDER_ANSWER = {**ORDER, "items": [{**ITEM, "order_id": ORDER_ID, "position": 0}],
                "user_email": "ann@example.com", "payment_token": "tok_ok",
                "idempotency_key": "k-1", "version": 3}

PAID_PAYMENT = {"status": "CAPTURED", "amount_cents": 2500, "refunded_cents": 0}
SHIPPED = {"status": "SHIPPED", "carrier": "ACME", "tracking_number": "TRK-1"}
ADDRESS = {"name": "Ann Lee", "line1": "1 Tea Street", "line2": None, "city": "Leeds",
           "postal_code": "LS1 1AA", "country": "GB", "phone": None}
PAID_ORDER = {**ORDER, "status": "SHIPPED", "payment": PAID_PAYMENT, "shipment": SHIPPED,
              "shipping_address": ADDRESS}
PAID_ANSWER = {**ORDER_ANSWER, "status": "SHIPPED",
               "payment": {**PAID_PAYMENT, "id": PAYMENT_ID, "provider_ref": "ch_1"},
               "shipment": {**SHIPPED, "id": "s-1", "ship_after": "later"},
               "shipping_address": {**ADDRESS, "internal": "not shown"}}

EVENT = {"type": "order.created", "at": "2024-05-01T12:00:00+00:00",
         "data": {"total_cents": 2500}}

PAYMENT = {"id": PAYMENT_ID, "order_id": ORDER_ID, "status": "CAPTURED",
           "amount_cents": 2500, "refunded_cents": 0, "attempts": 1}
PAYMENT_ANSWER = {**PAYMENT, "provider_ref": "ch_1", "token": "tok_ok"}

NEW_ORDER = {"items": [{"sku": "MUG-1", "quantity": 2}]}
