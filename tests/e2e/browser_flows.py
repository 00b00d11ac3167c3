"""What the browser tests do in the browser, run in a process of its own.

    python -m tests.e2e.browser_flows <flow> '<json arguments>'

Playwright's sync API runs its own asyncio loop on greenlets; in the test process,
which eventlet has monkey-patched, stopping it waits forever for its driver to exit
(asyncio's child watcher thread is a green thread that never gets to run). So
tests/e2e/test_browser.py starts this module in a plain interpreter, with what the flow
needs as JSON; a flow asserts with Playwright's `expect` (waits bounded by WAIT_MS),
prints its result as one JSON line and exits 0, or prints the failure and exits 1
(with a screenshot of the moment, `<flow>-failure.png`, next to the others).
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1024, "height": 720}
WAIT_MS = 30_000


ADDRESS = {"Full name": "Ann Browser", "Address": "1 Tea Street", "City": "Leeds",
           "Postal code": "LS1 1AA", "Country": "gb"}


def fill_address(page: Page) -> None:
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=False).first.fill(value)


def shot(page: Page, shots: str, name: str) -> None:
    Path(shots).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(shots) / f"{name}.png"))


def shop_and_follow(page: Page, *, sku: str, email: str, password: str, shots: str) -> dict:
    """Register, add `sku` to the cart, pay with tok_ok, watch the order page go live."""
    page.goto("/#/register")
    page.get_by_label("Name").fill("Ann Browser")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tea, coffee", timeout=WAIT_MS)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "connected",
                                                              timeout=WAIT_MS)
    page.locator(f'article[data-sku="{sku}"]').get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")
    shot(page, shots, "storefront")

    page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.locator(f'tr[data-sku="{sku}"]')).to_be_visible()
    page.get_by_label(re.compile("^tok_ok")).check()
    fill_address(page)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"#/orders/[0-9a-f-]{36}$"), timeout=WAIT_MS)
    order_id = page.url.rsplit("/", 1)[1]

    status = page.locator("#order-status")
    expect(status).to_have_text("CONFIRMED", timeout=WAIT_MS)
    # It came over the stream: the page lists every live event it receives.
    expect(page.locator('#live-log li[data-status="CONFIRMED"]')).to_have_count(1)
    expect(page.locator("#timeline")).to_contain_text("Order confirmed", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    shot(page, shots, "order-confirmed")
    # It keeps moving while the page stays open (it ships DELIVERY_SHIP_AFTER_S later).
    expect(status).to_have_text(re.compile("SHIPPED|DELIVERED"), timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    return {"order_id": order_id, "status": status.text_content()}


def restock(page: Page, *, sku: str, name: str, email: str, password: str,
            shots: str) -> dict:
    """Log in as the admin, restock `sku` by 7 and see its stock go from 3 to 10."""
    page.goto("/#/login?next=%2Fadmin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Admin", level=1)).to_be_visible(timeout=WAIT_MS)
    row = page.locator(f'tr[data-sku="{sku}"]')
    expect(row.locator('[data-field="on_hand"]')).to_have_text("3", timeout=WAIT_MS)
    row.get_by_label(f"Units to add to {name}").fill("7")
    row.get_by_role("button", name="Restock").click()
    expect(row.locator('[data-field="on_hand"]')).to_have_text("10", timeout=WAIT_MS)
    expect(row.locator('[data-field="available"]')).to_have_text("10")
    expect(page.locator("#admin-dead-letters table")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#admin-failed h2")).to_be_visible()
    shot(page, shots, "admin")
    return {"on_hand": row.locator('[data-field="on_hand"]').text_content()}


def read_docs(page: Page, *, shots: str) -> dict:
    """/docs renders /openapi.json: operations, and the orders among them."""
    page.goto("/docs")
    expect(page.locator("#docs")).not_to_have_attribute("aria-busy", "true", timeout=WAIT_MS)
    expect(page.locator(".operation").first).to_be_visible()
    expect(page.locator("#docs")).to_contain_text("/orders")
    return {"operations": page.locator(".operation").count()}


def price_changed(page: Page, *, sku: str, email: str, password: str, admin_token: str,
                  new_price_cents: int, shots: str) -> dict:
    """A price rises between the cart and the checkout: the shop says what changed and
    places the order only when asked again."""
    page.goto("/#/register")
    page.get_by_label("Name").fill("Ann Prices")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tea, coffee", timeout=WAIT_MS)
    page.locator(f'article[data-sku="{sku}"]').get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.locator(f'tr[data-sku="{sku}"]')).to_be_visible()
    answer = page.request.patch(f"/products/{sku}", data={"price_cents": new_price_cents},
                                headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status == 200, answer.text()
    fill_address(page)
    page.get_by_role("button", name="Place order").click()
    notice = page.locator("#price-changed")
    expect(notice).to_be_visible(timeout=WAIT_MS)
    expect(notice).to_contain_text("→")
    expect(page.locator("#cart-total")).to_contain_text(f"{new_price_cents / 100:.2f}")
    assert "#/cart" in page.url, "no order may be placed at a price not shown"
    expect(page.locator("#ship-city")).to_have_value("Leeds")  # kept through the redraw
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"#/orders/[0-9a-f-]{36}$"), timeout=WAIT_MS)
    return {"order_id": page.url.rsplit("/", 1)[1]}


def ships_to(page: Page, *, email: str, password: str, order_id: str, shots: str) -> dict:
    """Log in and open an order placed with a shipping address: the page shows it."""
    page.goto(f"/#/login?next=%2Forders%2F{order_id}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    address = page.locator("#ships-to")
    expect(address).to_be_visible(timeout=WAIT_MS)
    return {"lines": address.inner_text().splitlines()}


FLOWS = {"shop_and_follow": shop_and_follow, "restock": restock, "read_docs": read_docs,
         "price_changed": price_changed, "ships_to": ships_to}
# HTTP answers a flow provokes on purpose: the browser logs each non-2xx fetch as a
# console error ("Failed to load resource: ... status of 409"), which is not a fault.
EXPECTED_STATUSES = {"price_changed": {409}}
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of "
                         r"(\d+)")


def unexpected(flow: str, text: str) -> bool:
    failed = FAILED_LOAD.search(text)
    return not (failed and int(failed[1]) in EXPECTED_STATUSES.get(flow, ()))


def run(flow: str, args: dict) -> dict:
    """Run `flow` in a fresh browser on args["url"]; AssertionError on any script or
    console error (a Content-Security-Policy violation is one)."""
    url = args.pop("url")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=url, viewport=VIEWPORT).new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                if msg.type == "error" and unexpected(flow, msg.text) else None)
        try:
            result = FLOWS[flow](page, **args)
        except BaseException:
            shot(page, args["shots"], f"{flow}-failure")
            raise
        finally:
            browser.close()
    assert not problems, problems
    return result


if __name__ == "__main__":
    name, arguments = sys.argv[1], json.loads(sys.argv[2])
    try:
        print(json.dumps(run(name, arguments)))
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
