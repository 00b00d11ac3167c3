/**
 * The cart and checkout (checkout.js places the order). Each line's quantity is held to
 * the product's stock, read when the page opens (GET /products/{sku}): a hint, so a
 * line that grew short since says so and offers to lower it. The cart's total goes
 * along as expected_total_cents: when prices changed since the items were added, the
 * answer is 409 price_changed with today's prices; the cart takes them, says what
 * changed, and the shopper places the order again (or not) at those prices. The order
 * needs a shipping address: the form asks for one and offers the last one used again.
 * Placing the order leaves the cart as it is: it loses the order's lines only once
 * the order is confirmed, so a declined card or missing stock costs nothing to redo.
 */

import {api, ApiError, currentUser} from "../api.js";
import {lines, MAX_QUANTITY, remove, reprice, setAvailable, setQuantity, total} from "../cart.js";
import {pendingOrder, placeOrder, rememberAddressField, savedAddress, settlePending,
        SHED_RETRIES} from "../checkout.js";
import {announce, errorBox, h, money, mount, table} from "../dom.js";
import {rememberPlaced, shortId} from "./orders.js";

const TOKEN_KEY = "op.token";  // the test card chosen last, this tab
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
    if (name) rememberAddressField(name, event.target.value);
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

/** The test cards, the one chosen last (this tab) checked. */
export function paymentChoices() {
  const choices = document.getElementById("payment-tokens").content.cloneNode(true);
  const chosen = sessionStorage.getItem(TOKEN_KEY);
  const radio = chosen && choices.querySelector(`input[value="${CSS.escape(chosen)}"]`);
  if (radio) radio.checked = true;
  choices.firstElementChild.addEventListener("change", (event) => {
    sessionStorage.setItem(TOKEN_KEY, event.target.value);
  });
  return choices;
}

/** What the stock hint says of a line, or null when there is nothing to say. */
function stockNote(line) {
  if (line.available === null) return "No longer sold: remove it to order the rest.";
  if (!Number.isInteger(line.available)) return null;
  if (line.available === 0) return "Out of stock right now.";
  if (line.quantity > line.available) return `Only ${line.available} left.`;
  return null;
}

function lineRow(line, note) {
  const inputId = `cart-qty-${line.sku}`;
  const noteId = `cart-note-${line.sku}`;
  const most = Number.isInteger(line.available) ? Math.min(MAX_QUANTITY, line.available) : MAX_QUANTITY;
  const quantity = h("input", {type: "number", id: inputId, min: 0, max: Math.max(most, line.quantity),
                               value: line.quantity, "aria-describedby": noteId});
  quantity.addEventListener("change", () => {
    const wanted = Number.parseInt(quantity.value, 10);
    if (!Number.isInteger(wanted) || wanted < 0) return;
    if (wanted > most) {  // said before the redraw that setQuantity causes
      const why = most < MAX_QUANTITY ? `Only ${most} in stock` : `At most ${most} per order`;
      note.set(line.sku, `${why}: your cart holds ${most}.`);
      announce(`${line.name}: ${why.toLowerCase()}, your cart holds ${most}.`, "error");
    }
    setQuantity(line.sku, wanted);
  });
  const said = note.get(line.sku) || stockNote(line);
  const lower = Number.isInteger(line.available) && line.quantity > line.available
    ? h("button", {type: "button", class: "secondary", onclick: () => setQuantity(line.sku, line.available)},
      line.available ? `Lower to ${line.available}` : "Remove", h("span", {class: "sr-only"}, ` ${line.name}`))
    : null;
  return h("tr", {dataset: {sku: line.sku}},
    h("td", {}, line.name, h("br"), h("code", {class: "muted"}, line.sku)),
    h("td", {class: "num"}, money(line.price_cents, line.currency)),
    h("td", {class: "num"},
      h("label", {for: inputId, class: "sr-only"}, `Quantity of ${line.name}`), quantity,
      h("span", {id: noteId, class: "hint stock-note", dataset: {sku: line.sku}}, said || ""), lower),
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

function goneNotice(skus) {
  const names = skus.map((sku) => lines().find((l) => l.sku === sku)?.name || sku);
  return h("p", {class: "error", role: "alert", id: "not-sold"},
    `No longer sold: ${names.join(", ")}. Remove ${skus.length > 1 ? "them" : "it"} ` +
    "from your cart to order the rest.");
}

function pendingNotice() {
  const pending = pendingOrder();
  if (!pending) return null;
  return h("p", {class: "notice", id: "cart-pending"}, "Your ",
    h("a", {href: `#/orders/${pending.order_id}`}, `order ${shortId(pending.order_id)}`),
    " is being confirmed: its items leave your cart once it is.");
}

/** The address fields a 400 names: marked invalid, the first one focused. */
function markFields(form, err) {
  const details = err instanceof ApiError ? err.details || {} : {};
  const named = (details.fields || [details]).map((f) => f?.field).filter(Boolean);
  const inputs = named.map((field) => field.match(/^shipping_address\.(\w+)$/)?.[1])
    .map((name) => name && form.elements[`ship-${name}`]).filter(Boolean);
  for (const input of inputs) {
    input.setAttribute("aria-invalid", "true");
    input.addEventListener("input", () => input.removeAttribute("aria-invalid"), {once: true});
  }
  inputs[0]?.focus();
}

/** Read each line's stock (a hint): lines no longer sold get `available: null`. */
async function checkStock() {
  await Promise.all(lines().map(async ({sku}) => {
    try {
      const product = await api("GET", `/products/${encodeURIComponent(sku)}`);
      setAvailable(sku, product.available);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setAvailable(sku, null);
    }
  }));
}

export function cartView(root, {navigate}) {
  const heading = h("h1", {tabindex: -1}, "Your cart");
  const body = h("div");
  let notice = null;  // survives the redraw the repriced cart causes
  const note = new Map();  // sku -> what the last quantity change met, for one redraw
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
      mount(body, pendingNotice(),
            h("p", {}, "Your cart is empty. ", h("a", {href: "#/"}, "Browse the shop")));
      return;
    }
    const sum = total();
    const message = notice ? h("div", {}, notice) : h("div");
    notice = null;
    const rows = all.map((line) => lineRow(line, note));
    note.clear();
    const checkout = h("form", {class: "checkout", "aria-label": "Checkout"});
    checkout.append(addressFields(), paymentChoices());
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
      place.disabled = true;
      place.textContent = "Placing your order…";
      mount(message);
      try {
        const order = await placeOrder({
          items: lines().map(({sku, quantity}) => ({sku, quantity})),
          token: checkout.elements["payment-token"].value || "tok_ok",
          address: addressOf(checkout), expectedCents: total().cents,
        }, (waitS, attempt) => {
          place.textContent = "Retrying…";
          mount(message, h("p", {class: "notice", role: "status", id: "checkout-retry"},
            `The shop is busy right now: trying your order again in ${waitS} s ` +
            `(retry ${attempt} of ${SHED_RETRIES}).`));
        });
        rememberPlaced(order);
        announce("Order placed: your cart is kept until it is confirmed.");
        navigate(`/orders/${order.id}`);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.code === "price_changed") {
          notice = priceNotice(reprice(err.details.items));
          draw();  // today's prices and the notice; the shopper decides
          return;
        }
        const gone = err instanceof ApiError ? err.details?.unknown_skus : null;
        if (Array.isArray(gone) && gone.length) {
          for (const sku of gone) setAvailable(sku, null);
          notice = goneNotice(gone);
          draw();
          return;
        }
        // A session that died is sent to log in by app.js, and comes back here.
        mount(message, errorBox(err));
        markFields(checkout, err);
      }
      place.disabled = false;
      place.textContent = "Place order";
    });
    mount(body,
      pendingNotice(),
      table("Items in your cart", ["Product", "Price", "Quantity", "Line total", ""],
            rows, {numeric: [1, 2, 3]}),
      h("p", {class: "price"}, "Total at today's prices: ",
        h("strong", {id: "cart-total"}, money(sum.cents, sum.currency))),
      checkout);
  }

  draw();
  window.addEventListener("op:cart", draw);
  checkStock();
  if (currentUser() && pendingOrder()) settlePending().then(draw, () => {});
  return () => window.removeEventListener("op:cart", draw);
}
