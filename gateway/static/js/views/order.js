/**
 * One order, live: its status, lines, payment, shipment and timeline. The status
 * follows the user's event stream (no polling, no reload): each `order.status` event
 * for this order sets it at once, in an aria-live region, and triggers a re-read of
 * the order and its timeline for the details. A status never moves backwards on the
 * page, whichever of a stream event and a re-read arrives last.
 *
 * Re-reads run one at a time and the last one asked for always runs, so an older
 * answer never replaces a newer timeline (which once showed DELIVERED beside a
 * one-entry timeline). Each time the stream (re)connects, the page re-reads: what
 * happened while it was away is then on the page. An order that ends badly says why
 * and what next (outcome.js); cancelling a paid one asks first.
 */

import {api} from "../api.js";
import {settle} from "../checkout.js";
import {announce, badge, errorBox, h, money, mount, table, when} from "../dom.js";
import {onLive, recent} from "../stream.js";
import {describe} from "./timeline.js";
import {shortId, takePlaced} from "./orders.js";
import {cancelQuestion, declinedPanel, outOfStockNotice} from "./outcome.js";

const RANK = {PENDING: 0, RESERVED: 1, CONFIRMED: 2, SHIPPED: 3, DELIVERED: 4, CANCELLED: 5};
const CANCELLABLE = new Set(["PENDING", "RESERVED", "CONFIRMED"]);
const REREAD_DELAY_MS = 150;  // several events in a burst cost one re-read

export async function orderView(root, {params, navigate}) {
  const [id] = params;
  const state = {status: null, order: null, timeline: null, outcome: null};
  const statusText = h("strong", {id: "order-status", class: "status"}, "…");
  const reason = h("span", {id: "cancel-reason"});
  const details = h("div");
  const outcome = h("div");
  const timeline = h("ol", {class: "timeline", id: "timeline", "aria-label": "Timeline"});
  const liveLog = h("ol", {id: "live-log", class: "muted"});
  const cancel = h("button", {type: "button", class: "danger", hidden: true}, "Cancel order");
  const question = h("div");
  const message = h("div");  // what an action (cancel) met
  const readError = h("div");  // what the last read met, with a Retry
  mount(root,
    h("h1", {tabindex: -1}, `Order ${shortId(id)}`),
    h("div", {class: "order-head"},
      h("p", {class: "order-status", "aria-live": "polite", "aria-atomic": "true"},
        "Status: ", statusText, reason),
      cancel),
    question, message, readError, outcome, details,
    h("div", {class: "two-col"},
      h("section", {"aria-labelledby": "timeline-title"},
        h("h2", {id: "timeline-title"}, "Timeline"), timeline),
      h("section", {"aria-labelledby": "live-title"},
        h("h2", {id: "live-title"}, "Live updates on this page"),
        h("p", {class: "hint"}, "Received over the event stream while this page is open."),
        liveLog)));

  function setStatus(status, why) {
    if (state.status && RANK[status] < RANK[state.status]) return;  // a stale read
    state.status = status;
    statusText.textContent = status;
    statusText.className = `status status-${status.toLowerCase()}`;
    statusText.dataset.status = status;
    reason.textContent = why ? ` (${why.replaceAll("_", " ")})` : "";
    cancel.hidden = !CANCELLABLE.has(status);
    if (cancel.hidden) mount(question);
    settle(id, status);  // the cart's order confirmed: its lines leave the cart
  }

  function showOrder(order) {
    state.order = order;
    setStatus(order.status, order.cancel_reason);
    const facts = [["Placed", when(order.created_at)], ["Total", money(order.total_cents, order.currency)]];
    if (order.payment) {
      facts.push(["Payment", h("span", {id: "payment"}, badge(order.payment.status), " ",
        money(order.payment.amount_cents, order.currency),
        order.payment.refunded_cents ? `, refunded ${money(order.payment.refunded_cents, order.currency)}` : "")]);
    }
    if (order.shipment) {
      facts.push(["Shipment", h("span", {}, badge(order.shipment.status),
        order.shipment.carrier ? ` ${order.shipment.carrier} ${order.shipment.tracking_number || ""}` : "")]);
    }
    const to = order.shipping_address;
    if (to) {
      const town = [to.postal_code, to.city].filter(Boolean).join(" ");
      const label = [to.name, to.line1, to.line2, town, to.country].filter(Boolean);
      facts.push(["Ships to", h("address", {id: "ships-to"},
        label.flatMap((line, i) => (i ? [h("br"), line] : [line])))]);
    }
    mount(details,
      h("dl", {class: "facts"}, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      table("Items", ["Product", "Unit price", "Quantity", "Line total"],
            order.items.map((item) => [item.name, money(item.unit_price_cents, order.currency),
                                       String(item.quantity), money(item.line_total_cents, order.currency)]),
            {numeric: [1, 2, 3]}));
  }

  /** Why the order ended, and what next: drawn once per ending (a form keeps its state). */
  function showOutcome(order, events) {
    const ending = order.status === "CANCELLED" ? order.cancel_reason : null;
    if (ending === state.outcome) return;
    if (ending === "payment_declined") mount(outcome, declinedPanel(order, navigate));
    else if (ending === "out_of_stock") mount(outcome, outOfStockNotice(order, events));
    else mount(outcome);
    state.outcome = ending;
  }

  async function readOnce() {
    const [order, events] = await Promise.all([
      api("GET", `/orders/${id}`, {auth: true}),
      api("GET", `/orders/${id}/timeline`, {auth: true})]);
    mount(readError);
    showOrder(order);
    mount(timeline, events.items.map((event) => h("li", {}, when(event.at), describe(event))));
    showOutcome(order, events.items);
  }

  let reading = null;
  let again = false;
  /** Re-read the order and its timeline: one read at a time, and one more after it
   * when asked meanwhile (its answer is the newer one). */
  function reread() {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        try {
          await readOnce();
        } catch (err) {
          mount(readError, errorBox(err, {retry: reread}));
        }
      } while (again);
      reading = null;
    })();
    return reading;
  }

  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(reread, REREAD_DELAY_MS); };

  function onStatus(data) {
    setStatus(data.status, data.reason);
    liveLog.append(h("li", {dataset: {status: data.status}},
      h("time", {}, new Date().toLocaleTimeString()), ` ${data.status}`,
      data.reason ? ` (${data.reason.replaceAll("_", " ")})` : ""));
    soon();
  }

  const placed = takePlaced(id);
  if (placed) showOrder(placed);  // checkout's answer: PENDING, shown at once
  // Events that arrived before this page opened (right after checkout) count too.
  for (const {name, data} of recent()) {
    if (name === "order.status" && data.order_id === id) onStatus(data);
  }
  const stop = onLive((name, data) => {
    if (name === "order.status" && data.order_id === id) onStatus(data);
    else if (name === "open") soon();  // (re)connected: catch up on what a gap cost
  });

  async function cancelNow() {
    cancel.disabled = true;
    try {
      showOrder(await api("POST", `/orders/${id}/cancel`, {auth: true}));
      mount(question);
      announce("Cancellation requested.");
      soon();
    } catch (err) {
      mount(question);
      mount(message, errorBox(err));
    } finally {
      cancel.disabled = false;
    }
  }

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    mount(message);
    try {
      const order = await api("GET", `/orders/${id}`, {auth: true});  // paid by now?
      showOrder(order);
      if (order.payment?.status !== "CAPTURED") return await cancelNow();
      mount(question, cancelQuestion(order, cancelNow, () => {
        mount(question);
        cancel.focus();
      }));
    } catch (err) {
      mount(message, errorBox(err));
    } finally {
      cancel.disabled = false;
    }
  });

  await reread();
  return () => { stop(); clearTimeout(timer); };
}
