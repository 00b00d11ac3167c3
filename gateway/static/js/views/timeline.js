/** Plain words for an order's timeline entries ({type, at, data}). */

import {h, money} from "../dom.js";

const LABELS = {
  "order.created": "Order placed",
  "inventory.reserved": "Stock reserved",
  "inventory.failed": "Out of stock",
  "inventory.released": "Stock released",
  "payment.succeeded": "Payment captured",
  "payment.failed": "Payment declined",
  "payment.refunded": "Payment refunded",
  "order.reserved": "Stock held for the order",
  "order.confirmed": "Order confirmed",
  "order.cancelled": "Order cancelled",
  "delivery.cancelled": "Shipment stopped",
  "delivery.shipped": "Shipped",
  "order.shipped": "On its way",
  "delivery.delivered": "Delivered",
  "order.delivered": "Delivered to you",
};

function detail(type, data) {
  const words = (text) => String(text).replaceAll("_", " ");
  if (type.startsWith("payment.") && data.amount_cents != null) {
    const amount = money(data.amount_cents, data.currency || "USD");
    return data.reason ? `${amount}, ${words(data.reason)}` : amount;
  }
  if (type === "inventory.failed" && Array.isArray(data.shortages)) {
    return data.shortages.map((s) => `${s.sku}: ${s.available} of ${s.requested}`).join(", ");
  }
  if (type.startsWith("delivery.") && data.carrier) {
    return `${data.carrier} ${data.tracking_number || ""}`.trim();
  }
  if (data.reason) return words(data.reason);
  return "";
}

/** The entry as a line: its label, and what matters about it. */
export function describe(event) {
  const extra = detail(event.type, event.data || {});
  return h("span", {}, h("strong", {}, LABELS[event.type] || event.type),
    extra ? ` — ${extra}` : "");
}
