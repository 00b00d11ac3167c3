/**
 * Placing an order, and keeping the cart until that order is confirmed.
 *
 * POST /orders goes with an Idempotency-Key, kept (localStorage, beside the cart) with
 * the request's fingerprint: the same cart, card and address send the same key, so a
 * retry after a lost answer, or a second click while the order is on its way, gets the
 * same order back instead of a second one. A checkout the gateway shed (503 with
 * Retry-After) is sent again by itself, same key, after Retry-After seconds, at most
 * SHED_RETRIES times.
 *
 * The placed order is remembered ({key, fingerprint, order_id, items}) until it settles:
 * CONFIRMED (or later) takes its lines out of the cart; CANCELLED (declined card, out of
 * stock) leaves the cart as it was and forgets the key, so the next try is a new order.
 * It settles from the live stream (whatever page is open), from the order page, or
 * from the cart page, which asks for the order when it opens.
 */

import {api, ApiError} from "./api.js";
import {take} from "./cart.js";
import {uuid4} from "./dom.js";
import {readJson, writeJson} from "./storage.js";
import {onLive} from "./stream.js";

const CHECKOUT_KEY = "op.checkout";
const ADDRESS_KEY = "op.address";  // the last address used, offered again
export const SHED_RETRIES = 3;
const MAX_RETRY_WAIT_S = 30;  // a Retry-After beyond this is cut: the user is waiting
const DONE = new Set(["CONFIRMED", "SHIPPED", "DELIVERED"]);

const shed = (err) => err instanceof ApiError && err.status === 503 && err.retryAfterS != null;

function saved() {
  return readJson(localStorage, CHECKOUT_KEY);
}

function keep(value) {
  writeJson(localStorage, CHECKOUT_KEY, value || null);
}

/** The order placed from this cart and not settled yet: {order_id, items}, or null. */
export function pendingOrder() {
  const current = saved();
  return current?.order_id ? current : null;
}

/** The key for this request: the one already used for the same request, else a new one. */
function idempotencyKey(fingerprint) {
  const current = saved();
  if (current?.fingerprint === fingerprint) return current.key;
  const key = uuid4();
  keep({key, fingerprint});
  return key;
}

/** Forget the key: the next checkout is a new order whatever it holds. */
export function forgetKey() {
  keep(null);
}

/**
 * Place `{items: [{sku, quantity}], token, address, expectedCents}`: the order (201,
 * PENDING), or ApiError (409 price_changed, 400 ...). `onRetry(waitS, attempt)` is told
 * of each shed retry.
 */
export async function placeOrder({items, token, address, expectedCents}, onRetry = () => {}) {
  const key = idempotencyKey(JSON.stringify({items, token, address}));
  const request = {auth: true, headers: {"Idempotency-Key": key},
                   body: {items, payment: {token}, shipping_address: address,
                          expected_total_cents: expectedCents}};
  for (let attempt = 1; ; attempt += 1) {
    try {
      const order = await api("POST", "/orders", request);
      keep({...saved(), key, order_id: order.id, items});
      writeJson(localStorage, ADDRESS_KEY, address);
      return order;
    } catch (err) {
      if (err instanceof ApiError && err.code === "price_changed") forgetKey();
      if (!shed(err) || attempt > SHED_RETRIES) throw err;
      const waitS = Math.min(Math.max(err.retryAfterS, 1), MAX_RETRY_WAIT_S);
      onRetry(waitS, attempt);
      await new Promise((resolve) => { setTimeout(resolve, waitS * 1000); });
    }
  }
}

/** Order `orderId` is now `status`: when it is the one this cart placed, a confirmed
 * one takes its lines out of the cart and a cancelled one leaves the cart as it was.
 * Returns "taken", "kept", or null (not ours, or not settled yet). */
export function settle(orderId, status) {
  const pending = pendingOrder();
  if (!pending || pending.order_id !== orderId) return null;
  if (DONE.has(status)) {
    keep(null);
    take(pending.items);
    return "taken";
  }
  if (status === "CANCELLED") {
    keep(null);
    return "kept";
  }
  return null;
}

/** Settle the pending order by asking for it (the cart page opens): null if none. */
export async function settlePending() {
  const pending = pendingOrder();
  if (!pending) return null;
  try {
    const order = await api("GET", `/orders/${pending.order_id}`, {auth: true});
    settle(order.id, order.status);
    return order;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) keep(null);  // another account's
    throw err;
  }
}

/** The address last used (or typed), offered again: {} when none. */
export function savedAddress() {
  return readJson(localStorage, ADDRESS_KEY, {});
}

export function rememberAddressField(name, value) {
  writeJson(localStorage, ADDRESS_KEY, {...savedAddress(), [name]: value});
}

// Whatever page is open, the stream says when the cart's order settles.
onLive((name, data) => {
  if (name === "order.status") settle(data.order_id, data.status);
});
