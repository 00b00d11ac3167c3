/**
 * The admin page: products and stock with restock (GET /products, GET
 * /admin/inventory/{sku}, POST /products/{sku}/restock), then the operations panels
 * of admin-ops.js (dead letters, failed notifications). Each panel loads and fails on
 * its own: one service being down does not blank the page.
 */

import {api} from "../api.js";
import {announce, errorBox, h, money, mount, table} from "../dom.js";
import {deadLettersPanel, failedNotificationsPanel} from "./admin-ops.js";

const PAGE_SIZE = 20;

function stockCell(field, value) {
  return h("td", {class: "num", dataset: {field}}, String(value ?? "—"));
}

function productRow(product, stock) {
  const inputId = `restock-${product.sku}`;
  const quantity = h("input", {type: "number", id: inputId, min: 1, max: 1000000, value: 10,
                               required: true});
  const cells = {
    on_hand: stockCell("on_hand", stock?.on_hand),
    reserved: stockCell("reserved", stock?.reserved),
    available: stockCell("available", stock?.available ?? product.available),
  };
  const form = h("form", {"aria-label": `Restock ${product.sku}`},
    h("label", {for: inputId, class: "sr-only"}, `Units to add to ${product.name}`), quantity,
    h("button", {type: "submit"}, "Restock"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const after = await api("POST", `/products/${encodeURIComponent(product.sku)}/restock`,
                              {auth: true, body: {quantity: Number.parseInt(quantity.value, 10)}});
      for (const field of Object.keys(cells)) cells[field].textContent = String(after[field]);
      announce(`${product.sku}: ${after.on_hand} on hand, ${after.available} available.`);
    } catch (err) {
      announce(`Restock of ${product.sku} failed: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });
  return h("tr", {dataset: {sku: product.sku}},
    h("td", {}, h("code", {}, product.sku)), h("td", {}, product.name),
    h("td", {class: "num"}, money(product.price_cents, product.currency)),
    cells.on_hand, cells.reserved, cells.available, h("td", {}, form));
}

async function productsPanel(section) {
  const body = h("div");
  const previous = h("button", {type: "button", class: "secondary"}, "Previous page");
  const next = h("button", {type: "button", class: "secondary"}, "Next page");
  mount(section, h("h2", {id: "stock-title"}, "Products and stock"), body,
        h("nav", {class: "pager", "aria-label": "Stock pages"}, previous, next));
  const cursors = [null];
  let page = 0;

  async function load() {
    previous.disabled = next.disabled = true;
    try {
      const params = new URLSearchParams({limit: String(PAGE_SIZE)});
      if (cursors[page]) params.set("cursor", cursors[page]);
      const answer = await api("GET", `/products?${params}`);
      const stocks = await Promise.all(answer.items.map((p) =>
        api("GET", `/admin/inventory/${encodeURIComponent(p.sku)}`, {auth: true}).catch(() => null)));
      mount(body, table("Stock per product",
        ["SKU", "Name", "Price", "On hand", "Reserved", "Available", "Restock"],
        answer.items.map((p, i) => productRow(p, stocks[i])), {numeric: [2, 3, 4, 5]}));
      cursors[page + 1] = answer.next_cursor;
      previous.disabled = page === 0;
      next.disabled = !answer.next_cursor;
    } catch (err) {
      mount(body, errorBox(err));
    }
  }

  previous.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  await load();
}

export async function adminView(root) {
  const stock = h("section", {"aria-labelledby": "stock-title", id: "admin-stock"});
  const dead = h("section", {"aria-labelledby": "dead-title", id: "admin-dead-letters"});
  const failed = h("section", {"aria-labelledby": "failed-title", id: "admin-failed"});
  mount(root, h("h1", {tabindex: -1}, "Admin"), stock, dead, failed);
  await Promise.all([productsPanel(stock), deadLettersPanel(dead), failedNotificationsPanel(failed)]);
}
