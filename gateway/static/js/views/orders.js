/** The signed-in user's orders, newest first (GET /orders, paged). */

import {api} from "../api.js";
import {badge, errorBox, h, money, mount, table, when} from "../dom.js";
import {onLive} from "../stream.js";

const PAGE_SIZE = 20;
const placed = new Map();

/** Keep checkout's answer, so the order page can show it before its first GET. */
export function rememberPlaced(order) {
  placed.set(order.id, order);
}

export function takePlaced(id) {
  const order = placed.get(id);
  placed.delete(id);
  return order;
}

export const shortId = (id) => String(id).slice(0, 8);

function orderRow(order) {
  const count = order.items.reduce((n, item) => n + item.quantity, 0);
  return h("tr", {dataset: {order: order.id}},
    h("td", {}, h("a", {href: `#/orders/${order.id}`}, `Order ${shortId(order.id)}`)),
    h("td", {}, when(order.created_at)),
    h("td", {}, badge(order.status, {dataset: {status: order.id}})),
    h("td", {class: "num"}, String(count)),
    h("td", {class: "num"}, money(order.total_cents, order.currency)));
}

export async function ordersView(root) {
  const list = h("div");
  const more = h("button", {type: "button", class: "secondary", hidden: true}, "Show older orders");
  mount(root, h("h1", {tabindex: -1}, "Your orders"), list, more);
  const rows = [];
  let cursor = null;

  async function load() {
    more.disabled = true;
    try {
      const params = new URLSearchParams({limit: String(PAGE_SIZE)});
      if (cursor) params.set("cursor", cursor);
      const page = await api("GET", `/orders?${params}`, {auth: true});
      rows.push(...page.items.map(orderRow));
      cursor = page.next_cursor;
      mount(list, rows.length
        ? table("Orders", ["Order", "Placed", "Status", "Items", "Total"], rows,
                {numeric: [3, 4]})
        : h("p", {}, "No orders yet. ", h("a", {href: "#/"}, "Visit the shop")));
      more.hidden = !cursor;
    } catch (err) {
      const retry = () => { more.hidden = true; load(); };
      if (rows.length) mount(list, table("Orders", ["Order", "Placed", "Status", "Items", "Total"],
                                         rows, {numeric: [3, 4]}), errorBox(err, {retry}));
      else mount(list, errorBox(err, {retry}));
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  // Statuses move on while the list is open: the badge follows the stream.
  const stop = onLive((name, data) => {
    if (name !== "order.status") return;
    const cell = list.querySelector(`[data-status="${CSS.escape(data.order_id)}"]`);
    cell?.replaceWith(badge(data.status, {dataset: {status: data.order_id}}));
  });
  await load();
  return stop;
}
