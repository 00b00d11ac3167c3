/**
 * One order, live: its status, lines, payment, shipment and timeline. The status
 * follows the user's event stream (no polling, no reload): each `order.status` event
 * for this order sets it at once, in an aria-live region, and triggers a re-read of
 * the order and its timeline for the details. A status never moves backwards on the
 * page, whichever of a stream event and a re-read arrives last.
 */

import {api} from "../api.js";
import {announce, badge, errorBox, h, money, mount, table, when} from "../dom.js";
import {onLive, recent} from "../stream.js";
import {describe} from "./timeline.js";
import {shortId, takePlaced} from "./orders.js";

const RANK = {PENDING: 0, RESERVED: 1, CONFIRMED: 2, SHIPPED: 3, DELIVERED: 4, CANCELLED: 5};
const CANCELLABLE = new Set(["PENDING", "RESERVED", "CONFIRMED"]);
const REREAD_DELAY_MS = 150;  // several events in a burst cost one re-read

export async function orderView(root, {params}) {
  const [id] = params;
  const state = {status: null, order: null};
  const statusText = h("strong", {id: "order-status", class: "status"}, "…");
  const reason = h("span", {id: "cancel-reason"});
  const details = h("div");
  const timeline = h("ol", {class: "timeline", id: "timeline", "aria-label": "Timeline"});
  const liveLog = h("ol", {id: "live-log", class: "muted"});
  const cancel = h("button", {type: "button", class: "danger", hidden: true}, "Cancel order");
  const message = h("div");
  mount(root,
    h("h1", {tabindex: -1}, `Order ${shortId(id)}`),
    h("div", {class: "order-head"},
      h("p", {class: "order-status", "aria-live": "polite", "aria-atomic": "true"},
        "Status: ", statusText, reason),
      cancel),
    message, details,
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
  }

  function showOrder(order) {
    state.order = order;
    setStatus(order.status, order.cancel_reason);
    const facts = [["Placed", when(order.created_at)], ["Total", money(order.total_cents, order.currency)]];
    if (order.payment) {
      facts.push(["Payment", h("span", {}, badge(order.payment.status), " ",
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

  async function reread() {
    try {
      const [order, events] = await Promise.all([
        api("GET", `/orders/${id}`, {auth: true}),
        api("GET", `/orders/${id}/timeline`, {auth: true})]);
      showOrder(order);
      mount(timeline, events.items.map((event) =>
        h("li", {}, when(event.at), describe(event))));
    } catch (err) {
      mount(message, errorBox(err));
    }
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
    else if (name === "open" && data.reconnected) soon();  // a gap: catch up
  });

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      showOrder(await api("POST", `/orders/${id}/cancel`, {auth: true}));
      announce("Cancellation requested.");
    } catch (err) {
      mount(message, errorBox(err));
    } finally {
      cancel.disabled = false;
    }
  });

  await reread();
  return () => { stop(); clearTimeout(timer); };
}
