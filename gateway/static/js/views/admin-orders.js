/**
 * Every order, for the admin: a list with each customer's email and a status filter
 * (GET /orders?status=&user_id=, which an admin reads unscoped), and one order with its
 * payments (GET /admin/payments?order_id=), shipment, shipping address and timeline.
 * Cancelling a paid order asks first, saying what will be refunded; the page then reads
 * the order again until the refund shows (an admin has no live stream of other users'
 * orders).
 */

import {api} from "../api.js";
import {announce, badge, errorBox, h, money, mount, table, when} from "../dom.js";
import {ask, pagedList} from "./admin-kit.js";
import {describe} from "./timeline.js";

const STATUSES = ["PENDING", "RESERVED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"];
const CANCELLABLE = new Set(["PENDING", "RESERVED", "CONFIRMED"]);
const REFUND_CHECKS = 20;
const REFUND_CHECK_MS = 1000;

const shortId = (id) => String(id).slice(0, 8);
const wait = (ms) => new Promise((done) => { setTimeout(done, ms); });

function orderRow(order) {
  const count = order.items.reduce((n, item) => n + item.quantity, 0);
  return h("tr", {dataset: {order: order.id}},
    h("td", {}, h("a", {href: `#/admin/orders/${order.id}`}, `Order ${shortId(order.id)}`)),
    h("td", {}, order.user_email || h("code", {}, shortId(order.user_id))),
    h("td", {}, when(order.created_at)),
    h("td", {}, badge(order.status)),
    h("td", {class: "num"}, String(count)),
    h("td", {class: "num"}, money(order.total_cents, order.currency)));
}

export async function ordersPanel(section, {query, navigate}) {
  const status = h("select", {id: "order-status-filter"},
    h("option", {value: ""}, "Any status"),
    STATUSES.map((s) => h("option", {value: s, selected: query.get("status") === s}, s)));
  const userId = query.get("user_id");
  status.addEventListener("change", () => {
    const params = new URLSearchParams(query);
    if (status.value) params.set("status", status.value);
    else params.delete("status");
    navigate(`/admin/orders${params.size ? `?${params}` : ""}`);  // the filter is in the URL
  });
  const list = pagedList("Orders", (params) => {
    if (status.value) params.set("status", status.value);
    if (userId) params.set("user_id", userId);
    return api("GET", `/orders?${params}`, {auth: true});
  }, (answer) => (answer.items.length
    ? table("Orders", ["Order", "Customer", "Placed", "Status", "Items", "Total"],
            answer.items.map(orderRow), {numeric: [4, 5]})
    : h("p", {}, "No order matches.")));
  mount(section, h("h2", {id: "orders-title"}, "Orders"),
    h("div", {class: "actions admin-filters"},
      h("label", {for: status.id}, "Status"), status,
      userId ? h("span", {}, "of one customer · ", h("a", {href: "#/admin/orders"}, "every customer")) : null),
    list.element);
  await list.reload();
}

function address(to) {
  if (!to) return h("p", {class: "muted"}, "No shipping address (placed before addresses).");
  const town = [to.postal_code, to.city].filter(Boolean).join(" ");
  const lines = [to.name, to.line1, to.line2, town, to.country, to.phone].filter(Boolean);
  return h("address", {id: "admin-ships-to"}, lines.flatMap((line, i) => (i ? [h("br"), line] : [line])));
}

function facts(pairs) {
  return h("dl", {class: "facts"}, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

/** One order for the admin: `#/admin/orders/<id>`. */
export async function orderPanel(section, {id}) {
  const head = h("div");
  const question = h("div");
  const body = h("div");
  mount(section, h("p", {}, h("a", {href: "#/admin/orders"}, "← All orders")),
        h("h2", {id: "order-title"}, `Order ${shortId(id)}`), head, question, body);

  async function read() {
    // The order first: the timeline and payments read after it hold at least what it
    // shows (a refund the order shows is then in the timeline too), never less.
    const order = await api("GET", `/orders/${id}`, {auth: true});
    const [payments, events] = await Promise.all([
      api("GET", `/admin/payments?order_id=${id}`, {auth: true}),
      api("GET", `/orders/${id}/timeline`, {auth: true})]);
    show(order, payments.items, events.items);
    return order;
  }

  function show(order, payments, events) {
    const cancel = h("button", {type: "button", class: "danger", id: "admin-cancel",
                                hidden: !CANCELLABLE.has(order.status)}, "Cancel order");
    cancel.addEventListener("click", () => askToCancel(order, cancel));
    const paid = order.payment;
    mount(head, h("div", {class: "order-head"},
      h("p", {class: "order-status"}, "Status: ",
        h("strong", {id: "admin-order-status", class: `status status-${order.status.toLowerCase()}`},
          order.status),
        order.cancel_reason ? ` (${order.cancel_reason.replaceAll("_", " ")})` : ""),
      cancel),
      facts([["Customer", h("span", {id: "admin-order-customer"}, order.user_email || order.user_id)],
             ["Placed", when(order.created_at)], ["Total", money(order.total_cents, order.currency)],
             ["Payment", paid ? h("span", {id: "admin-order-payment"}, badge(paid.status), " ",
               money(paid.amount_cents, order.currency),
               paid.refunded_cents ? `, refunded ${money(paid.refunded_cents, order.currency)}` : "")
               : "none yet"]]));
    const shipment = order.shipment;
    mount(body,
      table("Items", ["Product", "SKU", "Unit price", "Quantity", "Line total"],
        order.items.map((item) => [item.name, h("code", {}, item.sku),
          money(item.unit_price_cents, order.currency), String(item.quantity),
          money(item.line_total_cents, order.currency)]), {numeric: [2, 3, 4]}),
      h("div", {class: "two-col"},
        h("section", {"aria-labelledby": "ship-title", id: "admin-shipment"},
          h("h3", {id: "ship-title"}, "Shipment"),
          shipment ? facts([["Status", badge(shipment.status)], ["Carrier", shipment.carrier || "—"],
                            ["Tracking", shipment.tracking_number || "—"]])
            : h("p", {class: "muted"}, order.status === "CANCELLED"
              ? "None: the order was cancelled before its parcel left." : "Not shipping yet."),
          h("h3", {}, "Ships to"), address(order.shipping_address)),
        h("section", {"aria-labelledby": "pay-title", id: "admin-payments"},
          h("h3", {id: "pay-title"}, "Payments"),
          payments.length ? table("Payments of this order",
            ["Payment", "Status", "Amount", "Refunded", "Attempts"],
            payments.map((p) => [h("code", {}, shortId(p.id)), badge(p.status),
              money(p.amount_cents ?? 0, order.currency), money(p.refunded_cents ?? 0, order.currency),
              String(p.attempts ?? "—")]), {numeric: [2, 3, 4]})
            : h("p", {class: "muted"}, "No payment yet."))),
      h("section", {"aria-labelledby": "admin-timeline-title"},
        h("h3", {id: "admin-timeline-title"}, "Timeline"),
        h("ol", {class: "timeline", id: "admin-timeline"},
          events.map((event) => h("li", {}, when(event.at), describe(event))))));
  }

  function askToCancel(order, button) {
    const paid = order.payment?.status === "CAPTURED";
    const back = paid ? order.payment.amount_cents - (order.payment.refunded_cents || 0) : 0;
    const who = order.user_email || "the customer";
    ask(question, paid
      ? [h("strong", {}, "Cancel this paid order? "),
         `${money(back, order.currency)} will be refunded to ${who}'s card, and the parcel will not leave.`]
      : [h("strong", {}, "Cancel this order? "), "Nothing has been charged; its stock is released."],
    {yesLabel: paid ? `Yes, cancel and refund ${money(back, order.currency)}` : "Yes, cancel it",
     noLabel: "Keep the order", id: "admin-cancel-confirm",
     no: () => button.focus(),
     yes: async () => {
       try {
         await api("POST", `/orders/${id}/cancel`, {auth: true});
         const said = paid ? `Cancelled: ${money(back, order.currency)} is being refunded.` : "Cancelled.";
         mount(question, h("p", {class: "notice", id: "admin-cancel-done", role: "status"}, said));
         announce(said);
         await followRefund(paid);
       } catch (err) {
         mount(question, errorBox(err));
       }
     }});
  }

  /** Read the order again until the cancellation (and its refund) shows, boundedly. */
  async function followRefund(paid) {
    for (let check = 0; check < REFUND_CHECKS && section.isConnected; check += 1) {
      const order = await read();
      const settled = order.status === "CANCELLED" && (!paid || order.payment?.status === "REFUNDED");
      if (settled) {
        const said = paid ? `Cancelled and refunded: ${money(order.payment.refunded_cents, order.currency)} `
          + `back to ${order.user_email || "the customer"}.` : "The order is cancelled.";
        mount(question, h("p", {class: "notice", id: "admin-cancel-done", role: "status"}, said));
        return announce(said);
      }
      await wait(REFUND_CHECK_MS);
    }
  }

  try {
    await read();
  } catch (err) {
    mount(body, errorBox(err, {retry: () => orderPanel(section, {id})}));
  }
}
