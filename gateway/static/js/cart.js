/**
 * The cart, in localStorage (it survives reloads and logins): {sku: line}, where a
 * line keeps the name and price seen in the shop. The order's prices are the ones
 * order_svc snapshots at checkout: checkout sends this cart's total as
 * expected_total_cents, and a 409 price_changed brings today's prices (reprice).
 */

const CART_KEY = "op.cart";
export const MAX_QUANTITY = 1000;  // the contract's limit per line

function read() {
  try {
    return JSON.parse(localStorage.getItem(CART_KEY)) || {};
  } catch {
    return {};
  }
}

function write(cart) {
  localStorage.setItem(CART_KEY, JSON.stringify(cart));
  window.dispatchEvent(new CustomEvent("op:cart"));
}

// Another tab changed the cart: tell this one's views too.
window.addEventListener("storage", (event) => {
  if (event.key === CART_KEY) window.dispatchEvent(new CustomEvent("op:cart"));
});

export function lines() {
  return Object.values(read());
}

export function add(product, quantity = 1) {
  const cart = read();
  const line = cart[product.sku] || {sku: product.sku, name: product.name,
                                     price_cents: product.price_cents,
                                     currency: product.currency || "USD", quantity: 0};
  line.quantity = Math.min(MAX_QUANTITY, line.quantity + quantity);
  cart[product.sku] = line;
  write(cart);
  return line;
}

export function setQuantity(sku, quantity) {
  const cart = read();
  if (!cart[sku]) return;
  if (quantity <= 0) delete cart[sku];
  else cart[sku].quantity = Math.min(MAX_QUANTITY, quantity);
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
