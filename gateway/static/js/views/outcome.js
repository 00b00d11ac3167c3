/**
 * What the order page says when an order ends badly, and what it offers next: a
 * declined card gets "try another card" (the same lines and address as a new order,
 * with a new Idempotency-Key); missing stock names each item and what is left, from
 * the timeline's inventory.failed entry ({shortages: [{sku, requested, available}]});
 * cancelling a paid order first says what will be refunded.
 */

import {ApiError} from "../api.js";
import {reprice, setAvailable} from "../cart.js";
import {placeOrder, settle} from "../checkout.js";
import {announce, errorBox, h, money, mount} from "../dom.js";
import {paymentChoices} from "./cart.js";
import {rememberPlaced} from "./orders.js";

/** The order's address as POST /orders takes it: empty optional fields left out. */
function addressOf(order) {
  const to = order.shipping_address || {};
  return Object.fromEntries(Object.entries(to).filter(([, value]) => value != null && value !== ""));
}

/** "Try another card": a new order of `order`'s lines to the same address. */
export function declinedPanel(order, navigate) {
  const message = h("div");
  const again = h("button", {type: "submit", id: "try-another-card"}, "Try another card");
  const form = h("form", {class: "checkout", "aria-label": "Try another card"},
    paymentChoices(), message, h("div", {class: "actions"}, again,
      h("a", {href: "#/cart"}, "Back to your cart")));
  // The card that was declined is the one chosen last: offer another one first.
  const checked = form.querySelector("input[name=payment-token]:checked");
  const ok = form.querySelector('input[value="tok_ok"]');
  if (checked && ok && checked !== ok) ok.checked = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    again.disabled = true;
    again.textContent = "Placing your order…";
    mount(message);
    settle(order.id, "CANCELLED");  // this order is over: the next one gets a new key
    try {
      const placed = await placeOrder({
        items: order.items.map(({sku, quantity}) => ({sku, quantity})),
        token: form.elements["payment-token"].value || "tok_ok",
        address: addressOf(order), expectedCents: order.total_cents});
      rememberPlaced(placed);
      announce("Order placed again with the other card.");
      navigate(`/orders/${placed.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === "price_changed") {
        reprice(err.details.items);
        announce("Prices changed since this order: check your cart and place it again.", "error");
        navigate("/cart");
        return;
      }
      mount(message, errorBox(err));
      again.disabled = false;
      again.textContent = "Try another card";
    }
  });
  return h("section", {class: "notice", id: "order-outcome", "aria-labelledby": "outcome-title"},
    h("h2", {id: "outcome-title"}, "Your card was declined"),
    h("p", {}, "Nothing was charged and your cart is kept. Choose another card to " +
      "place the same order again."),
    form);
}

/** The items missing stock, by name: "Green Tea: you asked for 2, only 1 left". */
export function outOfStockNotice(order, timeline) {
  const failed = timeline.find((event) => event.type === "inventory.failed");
  const shortages = Array.isArray(failed?.data?.shortages) ? failed.data.shortages : [];
  const names = new Map(order.items.map((item) => [item.sku, item.name]));
  for (const {sku, available} of shortages) setAvailable(sku, available);  // the cart's hint
  const said = shortages.map(({sku, requested, available}) => h("li", {dataset: {sku}},
    `${names.get(sku) || sku}: you asked for ${requested}, `,
    available > 0 ? `only ${available} left.` : "none left."));
  return h("section", {class: "notice", id: "order-outcome", "aria-labelledby": "outcome-title"},
    h("h2", {id: "outcome-title"}, "Not enough stock"),
    said.length ? h("ul", {id: "shortages"}, said)
      : h("p", {}, "Some items were out of stock when the order was placed."),
    h("p", {}, "Nothing was charged and your cart is kept: ",
      h("a", {href: "#/cart"}, "change it in your cart"), " and order again."));
}

/** Ask before cancelling a paid order: `yes()` cancels, `no()` closes the question. */
export function cancelQuestion(order, yes, no) {
  const payment = order.payment;
  const back = payment.amount_cents - (payment.refunded_cents || 0);
  const sure = h("button", {type: "button", class: "danger", id: "cancel-yes"}, "Yes, cancel and refund");
  const keep = h("button", {type: "button", class: "secondary", id: "cancel-no"}, "Keep my order");
  sure.addEventListener("click", () => { sure.disabled = keep.disabled = true; yes(); });
  keep.addEventListener("click", no);
  const box = h("div", {class: "notice", id: "cancel-confirm", role: "alertdialog",
                         "aria-labelledby": "cancel-question"},
    h("p", {id: "cancel-question"}, h("strong", {}, "Cancel this paid order? "),
      `You will be refunded ${money(back, order.currency)} to the card you paid with.`),
    h("div", {class: "actions"}, sure, keep));
  setTimeout(() => keep.focus(), 0);  // the safe answer first, for the keyboard
  return box;
}
