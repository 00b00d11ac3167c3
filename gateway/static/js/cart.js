/**
 * The cart, in localStorage (it survives reloads and logins): {sku: line}, where a
 * line keeps the name and price seen in the shop. The order's prices are the ones
 * order_svc snapshots at checkout: checkout sends this cart's total as
 * expected_total_cents, and a 409 price_changed brings today's prices (reprice).
 *
 * A line also keeps `available`, the stock last seen (the product's `available`): a
 * hint, not a promise, since others buy too. No add or set goes beyond it; the call
 * says so (`limited`, and a toast). The cart is emptied of an order's lines only once
 * that order is confirmed (checkout.js calls take): a declined card or missing stock
 * leaves it as it was.
 */

import {announce} from "./dom.js";
import {readJson, writeJson} from "./storage.js";

const CART_KEY = "op.cart";
export const MAX_QUANTITY = 1000;  // the contract's limit per line

function read() {
  return readJson(localStorage, CART_KEY, {});
}

function write(cart) {
  writeJson(localStorage, CART_KEY, cart);
  window.dispatchEvent(new CustomEvent("op:cart"));
}

// Another tab changed the cart: tell this one's views too.
window.addEventListener("storage", (event) => {
  if (event.key === CART_KEY) window.dispatchEvent(new CustomEvent("op:cart"));
});

export function lines() {
  return Object.values(read());
}

/** The most of `line` the cart may hold: the contract's limit, and the stock last seen. */
function most(line) {
  return Number.isInteger(line.available) ? Math.min(MAX_QUANTITY, line.available) : MAX_QUANTITY;
}

function sayLimited(line) {
  const text = line.available > 0
    ? `Only ${line.available} of ${line.name} in stock: your cart holds ${line.quantity}.`
    : `${line.name} is out of stock.`;
  // After the caller's own "added" message, so that this one is the one that stays.
  setTimeout(() => announce(text, "error"), 0);
}

/** Add `quantity` of `product` ({sku, name, price_cents, currency, available?}); the
 * line, with `limited: true` when the stock (or the line limit) held it back. */
export function add(product, quantity = 1) {
  const cart = read();
  const line = cart[product.sku] || {sku: product.sku, name: product.name,
                                     price_cents: product.price_cents,
                                     currency: product.currency || "USD", quantity: 0};
  if (Number.isInteger(product.available)) line.available = Math.max(0, product.available);
  const wanted = line.quantity + quantity;
  line.quantity = Math.min(most(line), wanted);
  if (line.quantity > 0) cart[line.sku] = line;
  write(cart);
  if (line.quantity < wanted) sayLimited(line);
  return {...line, limited: line.quantity < wanted};
}

/** Set a line's quantity (0 removes it), at most the stock last seen: the quantity set. */
export function setQuantity(sku, quantity) {
  const cart = read();
  const line = cart[sku];
  if (!line) return 0;
  if (quantity <= 0) delete cart[sku];
  else line.quantity = Math.min(most(line), quantity);
  write(cart);
  return quantity <= 0 ? 0 : line.quantity;
}

/** Remember the stock of `sku` seen now (GET /products/{sku}, or an order's shortage):
 * null when the product is gone from the shop. Changes no quantity. */
export function setAvailable(sku, available) {
  const cart = read();
  if (!cart[sku] || cart[sku].available === available) return;
  cart[sku].available = available;
  write(cart);
}

/** An order was confirmed: take its lines ([{sku, quantity}]) out of the cart, leaving
 * whatever was added since. */
export function take(items) {
  const cart = read();
  for (const {sku, quantity} of items || []) {
    if (!cart[sku]) continue;
    cart[sku].quantity -= quantity;
    if (cart[sku].quantity <= 0) delete cart[sku];
  }
  write(cart);
}

export function remove(sku) {
  setQuantity(sku, 0);
}

export function clear() {
  write({});
}

export function count() {
  return lines().reduce((n, line) => n + line.quantity, 0);
}

/** {cents, currency} of the cart at the shop's prices. */
export function total() {
  const all = lines();
  return {cents: all.reduce((sum, line) => sum + line.quantity * line.price_cents, 0),
          currency: all[0]?.currency || "USD"};
}

/** Today's prices from a 409 price_changed: [{sku, unit_price_cents}]; returns the
 * lines whose price moved, as [{name, before, after, currency}]. */
export function reprice(items) {
  const cart = read();
  const moved = [];
  for (const {sku, unit_price_cents: after} of items || []) {
    const line = cart[sku];
    if (!line || line.price_cents === after) continue;
    moved.push({name: line.name, before: line.price_cents, after, currency: line.currency});
    line.price_cents = after;
  }
  write(cart);
  return moved;
}
