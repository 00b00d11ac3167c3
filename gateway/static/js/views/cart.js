/**
 * The cart and checkout: POST /orders with the chosen test card and an
 * Idempotency-Key. The key is kept (sessionStorage) until the order is placed, and
 * reused while the cart and the card stay the same: a retry after a lost answer gets
 * the same order back instead of a second one. A checkout the gateway shed (503 with
 * Retry-After: the shop is busy) is sent again by itself, with the same key, after
 * Retry-After seconds, at most SHED_RETRIES times, saying so on the page. The cart's
 * total goes along as expected_total_cents: when prices changed since the items were
 * added, the answer is 409 price_changed with today's prices; the cart takes them,
 * says what changed, and the shopper places the order again (or not) at those prices.
 * The order needs a shipping address: the form asks for one and offers the last one
 * used again (localStorage).
 */

import {api, ApiError, currentUser} from "../api.js";
import {clear, lines, MAX_QUANTITY, remove, reprice, setQuantity, total} from "../cart.js";
import {announce, errorBox, h, money, mount, table, uuid4} from "../dom.js";
import {rememberPlaced} from "./orders.js";

const CHECKOUT_KEY = "op.checkout";
const ADDRESS_KEY = "op.address";  // the last address used, offered again
// [form field name, label, input attributes]; name, line1, city, postal code and
// country are required (the contract's shipping_address).
const ADDRESS_FIELDS = [
  ["name", "Full name", {required: true, maxlength: 100, autocomplete: "name"}],
  ["line1", "Address", {required: true, maxlength: 200, autocomplete: "address-line1"}],
  ["line2", "Address line 2 (optional)", {maxlength: 200, autocomplete: "address-line2"}],
  ["city", "City", {required: true, maxlength: 100, autocomplete: "address-level2"}],
  ["postal_code", "Postal code", {required: true, maxlength: 20, autocomplete: "postal-code"}],
  ["country", "Country (two letters, e.g. GB, DE, US)",
   {required: true, minlength: 2, maxlength: 2, pattern: "[A-Za-z]{2}", autocomplete: "country"}],
  ["phone", "Phone (optional, for delivery texts)", {maxlength: 30, autocomplete: "tel", type: "tel"}],
];

function savedAddress() {
  try {
    return JSON.parse(localStorage.getItem(ADDRESS_KEY)) || {};
  } catch {
    return {};
  }
}

function addressFields() {
  const saved = savedAddress();
  const fieldset = h("fieldset", {class: "address"}, h("legend", {}, "Ship to"),
    ADDRESS_FIELDS.map(([name, label, attrs]) => h("div", {class: "field"},
      h("label", {for: `ship-${name}`}, label),
      h("input", {id: `ship-${name}`, name: `ship-${name}`, type: "text", ...attrs,
                  value: saved[name] || ""}))));
  // Kept as typed: the cart redraws (a quantity, today's prices) without losing it.
  fieldset.addEventListener("input", (event) => {
    const name = event.target.name?.replace(/^ship-/, "");
    if (!name) return;
    localStorage.setItem(ADDRESS_KEY, JSON.stringify({...savedAddress(), [name]: event.target.value}));
  });
  return fieldset;
}

/** The form's address: trimmed, empty optional fields left out, country in capitals. */
function addressOf(form) {
  const address = {};
  for (const [name] of ADDRESS_FIELDS) {
    const value = form.elements[`ship-${name}`].value.trim();
    if (value) address[name] = name === "country" ? value.toUpperCase() : value;
  }
  return address;
}
const SHED_RETRIES = 3;
const MAX_RETRY_WAIT_S = 30;  // a Retry-After beyond this is cut: the user is waiting

const shed = (err) => err instanceof ApiError && err.status === 503 && err.retryAfterS != null;

/** POST /orders; a shed answer is retried (same request, same key) after Retry-After. */
export async function placeOrder(request, onRetry) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api("POST", "/orders", request);
    } catch (err) {
      if (!shed(err) || attempt > SHED_RETRIES) throw err;
      const waitS = Math.min(Math.max(err.retryAfterS, 1), MAX_RETRY_WAIT_S);
      onRetry(waitS, attempt);
      await new Promise((resolve) => { setTimeout(resolve, waitS * 1000); });
    }
  }
}

function idempotencyKey(fingerprint) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(CHECKOUT_KEY));
  } catch {
    saved = null;
  }
  if (saved?.fingerprint === fingerprint) return saved.key;
  const key = uuid4();
  sessionStorage.setItem(CHECKOUT_KEY, JSON.stringify({key, fingerprint}));
  return key;
}

function lineRow(line) {
  const inputId = `cart-qty-${line.sku}`;
  const quantity = h("input", {type: "number", id: inputId, min: 0, max: MAX_QUANTITY,
                               value: line.quantity});
  quantity.addEventListener("change", () => {
    const wanted = Number.parseInt(quantity.value, 10);
    if (Number.isInteger(wanted) && wanted >= 0) setQuantity(line.sku, wanted);
  });
  return h("tr", {dataset: {sku: line.sku}},
    h("td", {}, line.name, h("br"), h("code", {class: "muted"}, line.sku)),
    h("td", {class: "num"}, money(line.price_cents, line.currency)),
    h("td", {class: "num"},
      h("label", {for: inputId, class: "sr-only"}, `Quantity of ${line.name}`), quantity),
    h("td", {class: "num"}, money(line.price_cents * line.quantity, line.currency)),
    h("td", {}, h("button", {type: "button", class: "danger", onclick: () => remove(line.sku)},
      "Remove", h("span", {class: "sr-only"}, ` ${line.name}`))));
}

function priceNotice(moved) {
  return h("div", {class: "notice", role: "alert", id: "price-changed"},
    h("p", {}, "Prices changed since you added these items. Your cart now shows " +
      "today's prices: place the order again to accept them."),
    h("ul", {}, moved.map((m) => h("li", {},
      `${m.name}: ${money(m.before, m.currency)} → ${money(m.after, m.currency)}`))));
}

export function cartView(root, {navigate}) {
  const heading = h("h1", {tabindex: -1}, "Your cart");
  const body = h("div");
  let notice = null;  // survives the redraw the repriced cart causes
  mount(root, heading, body);

  function draw() {
    const focused = document.activeElement?.id;  // keep the keyboard where it was
    render();
    if (focused && root.contains(document.getElementById(focused))) {
      document.getElementById(focused).focus();
    }
  }

  function render() {
    const all = lines();
    if (!all.length) {
      mount(body, h("p", {}, "Your cart is empty. ", h("a", {href: "#/"}, "Browse the shop")));
      return;
    }
    const sum = total();
    const message = notice ? h("div", {}, notice) : h("div");
    notice = null;
    const checkout = h("form", {class: "checkout", "aria-label": "Checkout"});
    checkout.append(addressFields(),
                    document.getElementById("payment-tokens").content.cloneNode(true));
    const place = h("button", {type: "submit", id: "place-order"}, "Place order");
    if (currentUser()) {
      checkout.append(message, h("div", {class: "actions"}, place));
    } else {
      checkout.append(h("p", {class: "notice"},
        h("a", {href: `#/login?next=${encodeURIComponent("/cart")}`}, "Log in"), " or ",
        h("a", {href: `#/register?next=${encodeURIComponent("/cart")}`}, "register"),
        " to place your order."));
    }
    checkout.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = checkout.elements["payment-token"].value || "tok_ok";
      const items = lines().map(({sku, quantity}) => ({sku, quantity}));
      const address = addressOf(checkout);
      const key = idempotencyKey(JSON.stringify({items, token, address}));
      place.disabled = true;
      place.textContent = "Placing your order…";
      mount(message);
      try {
        const order = await placeOrder(
          {auth: true, headers: {"Idempotency-Key": key},
           body: {items, payment: {token}, shipping_address: address,
                  expected_total_cents: total().cents}},
          (waitS, attempt) => {
            place.textContent = "Retrying…";
            mount(message, h("p", {class: "notice", role: "status", id: "checkout-retry"},
              `The shop is busy right now: trying your order again in ${waitS} s ` +
              `(retry ${attempt} of ${SHED_RETRIES}).`));
          });
        sessionStorage.removeItem(CHECKOUT_KEY);
        localStorage.setItem(ADDRESS_KEY, JSON.stringify(address));
        rememberPlaced(order);
        clear();
        announce("Order placed: follow it live on its page.");
        navigate(`/orders/${order.id}`);
      } catch (err) {
        if (err instanceof ApiError && err.code === "price_changed") {
          sessionStorage.removeItem(CHECKOUT_KEY);  // a new total is a new request
          notice = priceNotice(reprice(err.details.items));
          draw();  // today's prices and the notice; the shopper decides
          return;
        }
        mount(message, errorBox(err));
        place.disabled = false;
        place.textContent = "Place order";
      }
    });
    mount(body,
      table("Items in your cart", ["Product", "Price", "Quantity", "Line total", ""],
            all.map(lineRow), {numeric: [1, 2, 3]}),
      h("p", {class: "price"}, "Total at today's prices: ",
        h("strong", {id: "cart-total"}, money(sum.cents, sum.currency))),
      checkout);
  }

  draw();
  window.addEventListener("op:cart", draw);
  return () => window.removeEventListener("op:cart", draw);
}
