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
import time
import traceback
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# A flow runs at one of these sizes ("viewport" argument); at "mobile" (an iPhone 12-14
# screen) every screenshot is named `<name>-mobile` and first checks that the page is
# no wider than the screen: nothing overflows sideways.
VIEWPORTS = {"desktop": {"width": 1024, "height": 720},
             "mobile": {"width": 390, "height": 844}}
MODE = {"viewport": "desktop"}
WAIT_MS = 30_000


ADDRESS = {"Full name": "Ann Browser", "Address": "1 Tea Street", "City": "Leeds",
           "Postal code": "LS1 1AA", "Country": "gb"}


def fill_address(page: Page) -> None:
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=False).first.fill(value)


def fits_the_screen(page: Page) -> None:
    """No horizontal scrolling: the document is no wider than the viewport, and no
    element sticks out past its right edge (a wide table must scroll in its own box)."""
    wider = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [...document.querySelectorAll("body *")].filter((el) => {
            const box = el.getBoundingClientRect();
            if (!box.width || getComputedStyle(el).position === "fixed") return false;
            // inside a scrolling box (.table-wrap): scrolls there, not the page
            for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === "auto" || o === "scroll" || o === "hidden") return false;
            }
            return box.right > width + 1;
        });
        return {page: document.documentElement.scrollWidth, width,
                out: out.slice(0, 5).map((el) => el.outerHTML.slice(0, 120))};
    }""")
    assert wider["page"] <= wider["width"] and not wider["out"], \
        f"wider than the {wider['width']} px screen: {wider}"


def shot(page: Page, shots: str, name: str, full: bool = False, check: bool = True) -> None:
    """A screenshot `<name>.png` (`-mobile` at 390 px, checked to fit unless not `check`)."""
    Path(shots).mkdir(parents=True, exist_ok=True)
    if MODE["viewport"] == "mobile":
        if check:
            fits_the_screen(page)
        name = f"{name}-mobile"
    page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=full)


def shop_and_follow(page: Page, *, sku: str, name: str, email: str, password: str,
                    shots: str) -> dict:
    """Register, search for the product `name`, open its page and add `sku` to the cart,
    ship it to an address, pay with tok_ok, and watch the order page go live until the
    parcel is delivered."""
    page.goto("/#/register")
    page.get_by_label("Name").fill("Ann Browser")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tea, coffee", timeout=WAIT_MS)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "connected",
                                                              timeout=WAIT_MS)
    page.get_by_role("searchbox", name="Search").fill(name)
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page.locator("article.card")).to_have_count(1, timeout=WAIT_MS)
    shot(page, shots, "storefront")
    page.locator(f'article[data-sku="{sku}"]').get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name, timeout=WAIT_MS)
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")

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
    # It keeps moving while the page stays open (it ships DELIVERY_SHIP_AFTER_S later,
    # and is delivered DELIVERY_DELIVER_AFTER_S after that).
    expect(status).to_have_text("DELIVERED", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("Delivered", timeout=WAIT_MS)
    expect(page.locator("#ships-to")).to_contain_text("1 Tea Street")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    shot(page, shots, "order-delivered")
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
    on_hand = row.locator('[data-field="on_hand"]').text_content()
    shot(page, shots, "admin")
    page.locator(".admin-tabs").get_by_role("link", name="Operations").click()
    expect(page.locator("#admin-dead-letters table")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#admin-failed h2")).to_be_visible()
    return {"on_hand": on_hand}


def read_docs(page: Page, *, shots: str) -> dict:
    """/docs renders /openapi.json: operations, the orders among them, descriptions as
    Markdown; "Try it" sends GET /products and shows the answer."""
    page.goto("/docs")
    expect(page.locator("#docs")).not_to_have_attribute("aria-busy", "true", timeout=WAIT_MS)
    expect(page.locator(".operation").first).to_be_visible()
    expect(page.locator("#docs")).to_contain_text("/orders")
    products = page.locator('section.operation[data-operation-id="listProducts"]')
    # Markdown: the description's list and `code` are elements, not asterisks and ticks.
    expect(products.locator(".description li code").first).to_have_text("q")
    products.locator("summary", has_text="Try it").click()
    products.get_by_label("limit (query)").fill("2")
    products.get_by_label("sort (query)").fill("price")
    status = products.locator(".try-status")
    for _ in range(5):  # a busy machine may shed it: 503, Retry-After 1, as for any client
        products.get_by_role("button", name="Send GET").click()
        expect(status).to_have_attribute("data-status", re.compile(r"^\d+$"), timeout=WAIT_MS)
        if not status.text_content().startswith("503"):
            break
        page.wait_for_timeout(1000)
    expect(status).to_have_text("200 OK")
    answer = json.loads(products.locator(".try-answer").text_content())
    # The form, the status and the answer in one picture.
    products.locator(".try-it summary").evaluate("el => el.scrollIntoView({block: 'start'})")
    shot(page, shots, "api-docs")
    return {"operations": page.locator(".operation").count(),
            "tried": [item["price_cents"] for item in answer["items"]]}


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
    page.goto(f"/#/products/{sku}")  # not the first page's: other tests add products
    page.locator(f'.product-page[data-sku="{sku}"]').get_by_role(
        "button", name="Add to cart").click()
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


ORDER_URL = re.compile(r"#/orders/[0-9a-f-]{36}$")
SETTLED = ("CONFIRMED", "SHIPPED", "DELIVERED")


def register_in_page(page: Page, name: str, email: str, password: str) -> None:
    """Register through the form and land on the shop, signed in."""
    page.goto("/#/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#who")).not_to_be_empty(timeout=WAIT_MS)


def cart_with(page: Page, sku: str, quantity: int = 1) -> None:
    """Put `quantity` of `sku` in the cart from the shop, and open the cart."""
    # Its own page: other tests' products can push it off the catalog's first page.
    page.goto(f"/#/products/{sku}")
    page.locator(f'.product-page[data-sku="{sku}"]').get_by_role(
        "button", name="Add to cart").click()
    page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.locator(f'tr[data-sku="{sku}"]')).to_be_visible(timeout=WAIT_MS)
    if quantity != 1:
        box = page.locator(f"#cart-qty-{sku}")
        box.fill(str(quantity))
        box.blur()
        expect(page.locator("#cart-count")).to_have_text(str(quantity))


def order_id_of(page: Page) -> str:
    return page.url.rsplit("/", 1)[1]


def declined_then_another_card(page: Page, *, sku: str, email: str, password: str,
                               shots: str) -> dict:
    """A card is declined: the cart is kept and the order page offers another card,
    which places the same cart again; the cart empties once that order is confirmed."""
    register_in_page(page, "Ann Declined", email, password)
    cart_with(page, sku)
    page.get_by_label(re.compile("^tok_declined")).check()
    fill_address(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(ORDER_URL, timeout=WAIT_MS)
    declined = order_id_of(page)
    expect(page.locator("#order-status")).to_have_text("CANCELLED", timeout=WAIT_MS)
    outcome = page.locator("#order-outcome")
    expect(outcome).to_contain_text("Your card was declined", timeout=WAIT_MS)
    expect(page.locator("#cart-count")).to_have_text("1")  # kept
    shot(page, shots, "order-declined")
    # Which status the page shows at the moment the cart badge drops to 0.
    page.evaluate("""() => {
      const badge = document.getElementById("cart-count");
      window.__emptiedAt = null;
      new MutationObserver(() => {
        if (badge.textContent === "0" && window.__emptiedAt === null) {
          window.__emptiedAt = document.getElementById("order-status")?.dataset.status || "none";
        }
      }).observe(badge, {childList: true, characterData: true, subtree: true});
    }""")
    outcome.get_by_label(re.compile("^tok_ok")).check()
    outcome.get_by_role("button", name="Try another card").click()
    page.wait_for_url(lambda url: ORDER_URL.search(url) is not None
                      and not url.endswith(declined), timeout=WAIT_MS)
    expect(page.locator("#order-status")).to_have_text(re.compile("|".join(SETTLED)),
                                                       timeout=WAIT_MS)
    expect(page.locator("#cart-count")).to_have_text("0", timeout=WAIT_MS)
    emptied_at = page.evaluate("window.__emptiedAt")
    assert emptied_at in SETTLED, f"the cart emptied while the order was {emptied_at}"
    shot(page, shots, "order-another-card")
    return {"declined": declined, "order_id": order_id_of(page), "emptied_at": emptied_at}


def out_of_stock(page: Page, *, sku: str, name: str, email: str, password: str,
                 other_token: str, shots: str) -> dict:
    """The cart holds both units left; no more can be added. Someone else buys one
    before the checkout: the order page names the item and what is left, and the
    cart is kept, showing the new stock."""
    register_in_page(page, "Ann Stock", email, password)
    cart_with(page, sku, quantity=2)
    box = page.locator(f"#cart-qty-{sku}")
    box.fill("5")
    box.blur()
    expect(page.locator(f"#cart-note-{sku}")).to_contain_text("Only 2 in stock")
    expect(box).to_have_value("2")
    fill_address(page)
    taken = page.request.post("/orders", headers={"Authorization": f"Bearer {other_token}"},
                              data={"items": [{"sku": sku, "quantity": 1}]})
    assert taken.status == 201, taken.text()
    wait_until_available(page, sku, 1)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(ORDER_URL, timeout=WAIT_MS)
    expect(page.locator("#order-status")).to_have_text("CANCELLED", timeout=WAIT_MS)
    shortage = page.locator(f'#shortages li[data-sku="{sku}"]')
    expect(shortage).to_contain_text(name, timeout=WAIT_MS)
    expect(shortage).to_contain_text("you asked for 2, only 1 left")
    expect(page.locator("#cart-count")).to_have_text("2")  # kept
    shot(page, shots, "order-out-of-stock")
    result = {"order_id": order_id_of(page), "said": shortage.inner_text()}
    page.locator("#order-outcome").get_by_role("link", name="change it in your cart").click()
    expect(page.locator(f"#cart-note-{sku}")).to_have_text("Only 1 left.", timeout=WAIT_MS)
    shot(page, shots, "cart-short")
    page.get_by_role("button", name=re.compile("^Lower to 1")).click()
    expect(page.locator("#cart-count")).to_have_text("1")
    return result


def wait_until_available(page: Page, sku: str, available: int) -> None:
    """Until GET /products/{sku} says `available` (another order is being reserved)."""
    for _ in range(WAIT_MS // 100):
        if page.request.get(f"/products/{sku}").json()["available"] == available:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{sku} never had {available} available")


def cancel_paid(page: Page, *, sku: str, email: str, password: str, shots: str) -> dict:
    """Cancelling a paid order says what will be refunded and waits for a yes."""
    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#who")).not_to_be_empty(timeout=WAIT_MS)
    cart_with(page, sku)
    page.get_by_label(re.compile("^tok_ok")).check()
    fill_address(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(ORDER_URL, timeout=WAIT_MS)
    status = page.locator("#order-status")
    expect(status).to_have_text("CONFIRMED", timeout=WAIT_MS)
    cancel = page.get_by_role("button", name="Cancel order")
    cancel.click()
    question = page.locator("#cancel-confirm")
    expect(question).to_contain_text("You will be refunded $9.90")
    page.get_by_role("button", name="Keep my order").click()
    expect(question).to_have_count(0)
    expect(status).to_have_text("CONFIRMED")  # nothing was sent
    cancel.click()
    expect(question).to_be_visible()
    shot(page, shots, "order-cancel-confirm")
    page.get_by_role("button", name="Yes, cancel and refund").click()
    expect(status).to_have_text("CANCELLED", timeout=WAIT_MS)
    return {"order_id": order_id_of(page)}


def session_ended_at_checkout(page: Page, *, sku: str, email: str, password: str,
                              shots: str) -> dict:
    """The session dies before the checkout (its refresh token refused): the shopper
    logs in again and is back at the cart, which is as it was. There a country that
    does not exist is refused in plain words, naming the field."""
    register_in_page(page, "Ann Session", email, password)
    cart_with(page, sku, quantity=2)
    fill_address(page)
    page.evaluate("""() => {
      const session = JSON.parse(sessionStorage.getItem("op.session"));
      sessionStorage.setItem("op.session", JSON.stringify(
        {...session, access_token: "expired", refresh_token: "spent", expires_at: 0}));
    }""")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#session-ended")).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your cart", level=1)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(f"#cart-qty-{sku}")).to_have_value("2")
    expect(page.locator("#ship-city")).to_have_value("Leeds")
    country = page.get_by_label("Country", exact=False).first
    country.fill("ZZ")  # two letters, as the form asks, but no country's code
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("form.checkout [role=alert]")).to_contain_text(
        "Country must be the country's two-letter code", timeout=WAIT_MS)
    shot(page, shots, "checkout-error")
    country.fill("GB")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(ORDER_URL, timeout=WAIT_MS)
    return {"order_id": order_id_of(page)}


def browse_and_search(page: Page, *, word: str, skus: list[str], category: str,
                      shots: str) -> dict:
    """Search the catalog, narrow by category, sort, page on (the URL keeps it all, a
    reload comes back to the same page), open a product and add it from its page.
    `skus`: the products whose names hold `word`, in sku order, more than one page."""
    page.goto("/#/?category=tea")  # the demo catalog's teas, for the picture
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tea, coffee", timeout=WAIT_MS)
    expect(page.locator('article.card[data-sku="TEA-SENCHA-100"] img')).to_be_visible()
    shot(page, shots, "catalog")
    page.goto("/")
    page.get_by_role("searchbox", name="Search").fill(word)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(rf"#/\?q={word}$"))
    cards = page.locator("article.card")
    expect(cards).to_have_count(12, timeout=WAIT_MS)
    expect(cards.first).to_have_attribute("data-sku", skus[0])
    shot(page, shots, "catalog-search")
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(rf"#/\?q={word}&page=2$"))
    expect(cards.first).to_have_attribute("data-sku", skus[12], timeout=WAIT_MS)
    page.reload()  # the page number is in the URL: the same page comes back
    expect(cards.first).to_have_attribute("data-sku", skus[12], timeout=WAIT_MS)
    page.get_by_label("Sort by").select_option("-price")
    expect(page).to_have_url(re.compile(r"sort=-price"))
    expect(page).not_to_have_url(re.compile(r"page="))
    page.get_by_label("Category").select_option(category)
    expect(page).to_have_url(re.compile(rf"category={category}"))
    expect(cards).to_have_count(2, timeout=WAIT_MS)
    dearest = cards.first.get_attribute("data-sku")
    cards.first.get_by_role("heading").get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#/products/{dearest}$"))
    expect(page.locator(f'.product-page[data-sku="{dearest}"] img')).to_be_visible()
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")
    shot(page, shots, "product")
    page.goto("/#/products/NO-SUCH-THING")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not in the shop",
                                                              timeout=WAIT_MS)
    return {"dearest": dearest}


def in_page(page: Page, method: str, path: str, token: str | None = None,
            body: dict | None = None) -> dict:
    """An API call from the page (the admin's own token unless `token`): {status, body}."""
    return page.evaluate("""async ([method, path, token, body]) => {
      token ||= JSON.parse(sessionStorage.getItem("op.session")).access_token;
      const headers = {Authorization: `Bearer ${token}`, "Content-Type": "application/json"};
      const answer = await fetch(path, {method, headers,
                                        body: body ? JSON.stringify(body) : undefined});
      return {status: answer.status, body: await answer.json()};
    }""", [method, path, token, body])


def order_status_is(page: Page, order_id: str, status: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while in_page(page, "GET", f"/orders/{order_id}")["body"]["status"] != status:
        assert time.monotonic() < deadline, f"order {order_id} never reached {status}"
        page.wait_for_timeout(100)


def admin_runs_the_shop(page: Page, *, email: str, password: str, sku: str,
                        shopper_token: str, shopper_email: str, client_name: str,
                        shots: str) -> dict:
    """The admin adds a product (category, image) and edits its price; a shopper orders
    it (API); the admin finds the order, sees its payment, shipment, address and
    timeline, cancels it after a question that states the refund, and sees it refunded;
    then looks up the customer, adds and revokes an API client, reads the notification
    log with its recipients."""
    page.goto("/#/login?next=%2Fadmin%2Fproducts")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Admin · Products", level=1)).to_be_visible(
        timeout=WAIT_MS)
    page.get_by_role("button", name="New product").click()
    form = page.locator("#product-form")
    for label, value in {"SKU": sku, "Name": "Admin Darjeeling", "Price": "11.50",
                         "Description": "First flush, added from the admin page.",
                         "Category": "tea", "Image URL": "/static/img/products/TEA-ASSAM-250.svg",
                         "Units in stock": "6"}.items():
        form.get_by_label(label, exact=True).fill(value)
    shot(page, shots, "admin-product-form")
    form.get_by_role("button", name="Add product").click()
    row = page.locator(f'tr[data-sku="{sku}"]')
    expect(row.locator('[data-field="category"]')).to_have_text("tea", timeout=WAIT_MS)
    expect(row.locator("img")).to_be_visible()
    row.get_by_role("button", name=f"Edit {sku}").click()
    form.get_by_label("Price", exact=True).fill("12.50")
    form.get_by_role("button", name="Save changes").click()
    expect(row.locator('[data-field="price"]')).to_have_text("$12.50", timeout=WAIT_MS)
    shot(page, shots, "admin-products", full=True)

    placed = in_page(page, "POST", "/orders", shopper_token, {
        "items": [{"sku": sku, "quantity": 2}], "shipping_address": {
            "name": "Ann Shopper", "line1": "1 Tea Street", "city": "Leeds",
            "postal_code": "LS1 1AA", "country": "GB"}})
    assert placed["status"] == 201, placed
    order_id = placed["body"]["id"]
    page.locator(".admin-tabs").get_by_role("link", name="Orders").click()
    order_row = page.locator(f'tr[data-order="{order_id}"]')
    expect(order_row).to_contain_text(shopper_email, timeout=WAIT_MS)
    shot(page, shots, "admin-orders")
    # It ships DELIVERY_SHIP_AFTER_S (5 s here) after CONFIRMED: cancel before that.
    order_status_is(page, order_id, "CONFIRMED")
    order_row.get_by_role("link").click()
    expect(page.locator("#admin-order-status")).to_have_text("CONFIRMED", timeout=WAIT_MS)
    expect(page.locator("#admin-payments")).to_contain_text("CAPTURED")
    expect(page.locator("#admin-ships-to")).to_contain_text("1 Tea Street")
    page.get_by_role("button", name="Cancel order").click()
    question = page.locator("#admin-cancel-confirm")
    expect(question).to_contain_text("$25.00 will be refunded")
    shot(page, shots, "admin-cancel-confirm")
    page.get_by_role("button", name="Yes, cancel and refund $25.00").click()
    expect(page.locator("#admin-order-status")).to_have_text("CANCELLED", timeout=WAIT_MS)
    expect(page.locator("#admin-order-payment")).to_contain_text("REFUNDED", timeout=WAIT_MS)
    expect(page.locator("#admin-timeline")).to_contain_text("Payment refunded", timeout=WAIT_MS)
    expect(page.locator("#admin-shipment")).to_contain_text("Leeds")
    shot(page, shots, "admin-order-refunded", full=True)

    page.locator(".admin-tabs").get_by_role("link", name="Customers").click()
    page.get_by_label("Email or name").fill(shopper_email)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#admin-customers tbody tr")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#admin-customers tbody")).to_contain_text(shopper_email)
    shot(page, shots, "admin-customers")

    page.locator(".admin-tabs").get_by_role("link", name="API clients").click()
    page.get_by_label("Name", exact=True).fill(client_name)
    page.get_by_label("inventory:read").check()
    page.get_by_role("button", name="Create client").click()
    expect(page.locator("#client-secret")).to_contain_text("client_secret", timeout=WAIT_MS)
    client_id = page.locator("#client-secret code").first.text_content()
    expect(page.locator(f'tr[data-client="{client_id}"]')).to_be_visible(timeout=WAIT_MS)
    shot(page, shots, "admin-clients", full=True)
    page.get_by_role("button", name=f"Revoke {client_name}").click()
    page.get_by_role("button", name="Yes, revoke").click()
    expect(page.locator(f'tr[data-client="{client_id}"]')).to_have_count(0, timeout=WAIT_MS)

    page.locator(".admin-tabs").get_by_role("link", name="Operations").click()
    expect(page.locator('#admin-failed [data-field="recipient"]', has_text=shopper_email)
           .first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#admin-dead-letters table")).to_be_visible(timeout=WAIT_MS)
    shot(page, shots, "admin-operations", full=True)
    return {"order_id": order_id, "client_id": client_id}


def oidc_sign_in(page: Page, *, name: str, shots: str) -> dict:
    """"Sign in with Google" against tests/e2e/oidc_provider.py (which consents at once):
    the button, a failed sign-in's reason in plain words (never the URL's own words), then
    the provider, back through the callback to `#/oidc`, and signed in as `name` with the
    one-time code gone from the address bar."""
    page.goto("/#/login")
    button = page.get_by_role("link", name="Sign in with Google")
    expect(button).to_be_visible(timeout=WAIT_MS)
    shot(page, shots, "oidc-login")
    page.goto("/#/login?error=email_unverified")
    expect(page.locator("#oidc-error")).to_contain_text(
        "has not verified your email address", timeout=WAIT_MS)
    page.goto("/#/login?error=<b>call+us+now</b>")
    expect(page.locator("#oidc-error")).to_contain_text("could not be accepted")
    expect(page.locator("#oidc-error")).not_to_contain_text("call us")
    page.get_by_role("link", name="Sign in with Google").click()
    expect(page.locator("#who")).to_have_text(name, timeout=WAIT_MS)
    expect(page).to_have_url(re.compile(r"#/$"), timeout=WAIT_MS)
    return {"url": page.url}


FLOWS = {"shop_and_follow": shop_and_follow, "restock": restock, "read_docs": read_docs,
         "price_changed": price_changed, "ships_to": ships_to,
         "declined_then_another_card": declined_then_another_card,
         "out_of_stock": out_of_stock, "cancel_paid": cancel_paid,
         "session_ended_at_checkout": session_ended_at_checkout,
         "browse_and_search": browse_and_search, "admin_runs_the_shop": admin_runs_the_shop,
         "oidc_sign_in": oidc_sign_in}
# HTTP answers a flow provokes on purpose: the browser logs each non-2xx fetch as a
# console error ("Failed to load resource: ... status of 409"), which is not a fault.
EXPECTED_STATUSES = {"browse_and_search": {404}, "price_changed": {409}, "read_docs": {503},
                     "session_ended_at_checkout": {400, 401}}
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of "
                         r"(\d+)")


def unexpected(flow: str, text: str) -> bool:
    failed = FAILED_LOAD.search(text)
    return not (failed and int(failed[1]) in EXPECTED_STATUSES.get(flow, ()))


def run(flow: str, args: dict) -> dict:
    """Run `flow` in a fresh browser on args["url"]; AssertionError on any script or
    console error (a Content-Security-Policy violation is one)."""
    url = args.pop("url")
    MODE["viewport"] = args.pop("viewport", "desktop")
    mobile = MODE["viewport"] == "mobile"
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=url, viewport=VIEWPORTS[MODE["viewport"]],
                                   is_mobile=mobile, has_touch=mobile).new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                if msg.type == "error" and unexpected(flow, msg.text) else None)
        try:
            result = FLOWS[flow](page, **args)
        except BaseException:
            shot(page, args["shots"], f"{flow}-failure", check=False)
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
