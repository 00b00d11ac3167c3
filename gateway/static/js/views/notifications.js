/** The signed-in user's notifications (GET /notifications), newest first, live. */

import {api} from "../api.js";
import {badge, errorBox, h, mount, table, when} from "../dom.js";
import {onLive} from "../stream.js";

const PAGE_SIZE = 20;
const KINDS = {
  welcome: "Welcome", order_confirmed: "Order confirmed", order_cancelled: "Order cancelled",
  order_shipped: "Order shipped", order_delivered: "Order delivered",
};

function row(item) {
  return [item.subject || "—", KINDS[item.kind] || item.kind, item.channel, badge(item.status),
          when(item.created_at), when(item.sent_at)];
}

export async function notificationsView(root) {
  const list = h("div");
  const more = h("button", {type: "button", class: "secondary", hidden: true}, "Show older");
  mount(root, h("h1", {tabindex: -1}, "Notifications"), list, more);
  let items = [];
  let cursor = null;

  async function load(reset = false) {
    if (reset) {
      items = [];
      cursor = null;
    }
    more.disabled = true;
    try {
      const params = new URLSearchParams({limit: String(PAGE_SIZE)});
      if (cursor) params.set("cursor", cursor);
      const page = await api("GET", `/notifications?${params}`, {auth: true});
      items = items.concat(page.items);
      cursor = page.next_cursor;
      mount(list, items.length
        ? table("Your notifications", ["Subject", "Kind", "Channel", "Status", "Created", "Sent"],
                items.map(row))
        : h("p", {}, "Nothing yet: emails about your account and orders show up here."));
      more.hidden = !cursor;
    } catch (err) {
      mount(list, errorBox(err, {retry: () => load()}));
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", () => load());
  const stop = onLive((name) => { if (name === "notification") load(true); });
  await load();
  return stop;
}
