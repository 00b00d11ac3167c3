"""The mails' HTML in Chromium at a phone's width, run in a process of its own.

    python -m tests.e2e.mail_layout '<json: {"shots": dir, "width": 390}>'

Every kind of mail is rendered from notify_svc's templates with a long order (a long
product name, a long sku, a long link) and opened at `width` px: the result says, per
kind, how wide the page is (document.scrollWidth) and how wide its widest element is;
the out-of-stock cancel mail and the shipped mail are saved as `mail-<width>.png` and
`mail-shipped-<width>.png`. A process of its own for the reason browser_flows.py gives
(Playwright's sync API in an eventlet-patched process never stops).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from notify_svc import domain, render
from tests.e2e.browser_flows import CHROMIUM, CHROMIUM_ARGS

ORDER_ID = "1a2b3c4d-5e6f-4a00-8000-000000000042"
PUBLIC_URL = "http://localhost:8000"
ORDER = {
    "order_id": ORDER_ID, "currency": "USD", "total_cents": 128050,
    "items": [
        {"sku": "TEA-SENCHA-PREMIUM-FIRST-FLUSH-100G", "quantity": 2,
         "name": "Sencha Premium First Flush, Shizuoka, loose leaf", "unit_price_cents": 61725},
        {"sku": "MUG", "name": "Stoneware mug", "quantity": 3, "unit_price_cents": 1200},
        {"sku": "KETTLE-GOOSENECK", "name": "Gooseneck kettle", "quantity": 1,
         "unit_price_cents": 3000}],
    "payment": {"status": "CAPTURED", "amount_cents": 128050, "refunded_cents": 0},
    "shipment": {"status": "SHIPPED", "carrier": "DHL", "tracking_number": "JD014600006281234567"},
    "shipping_address": {"name": "Ann Lee", "line1": "1 Tea Street", "line2": "Flat 4",
                         "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
}
SHORTAGES = [{"sku": "TEA-SENCHA-PREMIUM-FIRST-FLUSH-100G", "requested": 2, "available": 1},
             {"sku": "KETTLE-GOOSENECK", "requested": 1, "available": 0}]
SHOTS = {domain.ORDER_CANCELLED: "mail-{width}", domain.ORDER_SHIPPED: "mail-shipped-{width}"}
# The widest element's right edge, and the page's scroll width: both must fit the screen.
MEASURE = """() => {
  let right = 0;
  for (const el of document.querySelectorAll("body *")) {
    right = Math.max(right, el.getBoundingClientRect().right);
  }
  return {scroll_width: document.documentElement.scrollWidth, widest: Math.ceil(right)};
}"""


def html_of(kind: str) -> str:
    context = render.mail_context(
        kind, PUBLIC_URL, order=ORDER, email="ann.lee.with.a.long.address@example.com",
        reason="out_of_stock" if kind == domain.ORDER_CANCELLED else None,
        shortages=SHORTAGES, verification_token="ev_" + "x" * 40, reset_token="pr_" + "y" * 40,
        shop_name=domain.DEFAULT_SHOP_NAME)
    return render.render(kind, context).html


def run(shots: str, width: int) -> dict:
    Path(shots).mkdir(parents=True, exist_ok=True)
    found = {}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": width, "height": 844}).new_page()
            for kind in domain.KINDS:
                page.set_content(html_of(kind))
                found[kind] = page.evaluate(MEASURE)
                if kind in SHOTS:
                    name = SHOTS[kind].format(width=width)
                    page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)
        finally:
            browser.close()
    return found


if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    print(json.dumps(run(arguments["shots"], int(arguments.get("width", 390)))))
