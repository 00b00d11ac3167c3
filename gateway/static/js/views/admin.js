/**
 * The admin pages, one per part of the shop, each with its own address:
 * `#/admin` (products and stock), `#/admin/orders` (`?status=`, `?user_id=`),
 * `#/admin/orders/<id>`, `#/admin/customers` (`?q=`), `#/admin/clients` and
 * `#/admin/operations` (dead letters, notifications). Each panel loads and fails on its
 * own: one service being down does not blank the page.
 */

import {h, mount} from "../dom.js";
import {deadLettersPanel, notificationsPanel} from "./admin-ops.js";
import {orderPanel, ordersPanel} from "./admin-orders.js";
import {clientsPanel, customersPanel} from "./admin-people.js";
import {productsPanel} from "./admin-products.js";

const SECTIONS = [
  {path: "products", label: "Products"},
  {path: "orders", label: "Orders"},
  {path: "customers", label: "Customers"},
  {path: "clients", label: "API clients"},
  {path: "operations", label: "Operations"},
];

function tabs(current) {
  return h("nav", {class: "admin-tabs", "aria-label": "Admin sections"},
    h("ul", {}, SECTIONS.map(({path, label}) => h("li", {},
      h("a", {href: `#/admin/${path}`, "aria-current": path === current ? "page" : null}, label)))));
}

function section(id, title) {
  return h("section", {id, "aria-labelledby": title});
}

/** `params`: [section, order id] of the route (both optional). */
export async function adminView(root, {params = [], query = new URLSearchParams(), navigate} = {}) {
  const [part = "products", orderId] = params;
  const current = part || "products";
  const label = SECTIONS.find((s) => s.path === current)?.label || "Products";
  mount(root, h("h1", {tabindex: -1}, orderId ? "Admin · Order" : `Admin · ${label}`), tabs(current));
  const context = {query, navigate, id: orderId};
  if (current === "orders" && orderId) {
    const one = root.appendChild(section("admin-order", "order-title"));
    return orderPanel(one, context);
  }
  if (current === "orders") return ordersPanel(root.appendChild(section("admin-orders", "orders-title")), context);
  if (current === "customers") {
    return customersPanel(root.appendChild(section("admin-customers", "customers-title")), context);
  }
  if (current === "clients") return clientsPanel(root.appendChild(section("admin-clients", "clients-title")));
  if (current === "operations") {
    const dead = root.appendChild(section("admin-dead-letters", "dead-title"));
    const notes = root.appendChild(section("admin-failed", "failed-title"));
    return void await Promise.all([deadLettersPanel(dead), notificationsPanel(notes)]);
  }
  return productsPanel(root.appendChild(section("admin-stock", "stock-title")));
}
