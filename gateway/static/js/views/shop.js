/** The catalog: GET /products a page at a time, each product with "Add to cart". */

import {api} from "../api.js";
import {add, MAX_QUANTITY} from "../cart.js";
import {announce, errorBox, h, money, mount} from "../dom.js";

const PAGE_SIZE = 12;

function productCard(product) {
  const inputId = `qty-${product.sku}`;
  const soldOut = product.available <= 0;
  const quantity = h("input", {type: "number", id: inputId, name: "quantity", min: 1,
                               max: Math.max(1, Math.min(MAX_QUANTITY, product.available)),
                               value: 1, required: true, disabled: soldOut});
  const form = h("form", {
    "aria-label": `Add ${product.name} to the cart`,
    onsubmit: (event) => {
      event.preventDefault();
      const wanted = Number.parseInt(quantity.value, 10);
      if (!Number.isInteger(wanted) || wanted < 1) {
        announce("Choose a quantity of at least 1.", "error");
        return;
      }
      const line = add(product, wanted);
      announce(`${product.name}: ${line.quantity} in your cart.`);
    },
  },
  h("div", {class: "field"}, h("label", {for: inputId}, "Quantity"), quantity),
  h("button", {type: "submit", disabled: soldOut, dataset: {sku: product.sku}},
    soldOut ? "Sold out" : "Add to cart"));
  return h("li", {},
    h("article", {class: "card", dataset: {sku: product.sku}},
      h("h2", {}, product.name),
      h("p", {class: "desc"}, product.description || ""),
      h("p", {class: "price"}, money(product.price_cents, product.currency)),
      h("p", {class: "stock"}, soldOut ? "Out of stock" : `${product.available} in stock`),
      form));
}

export async function shopView(root) {
  const heading = h("h1", {tabindex: -1}, "Tea, coffee and the things to brew them");
  const list = h("ul", {class: "grid", "aria-label": "Products"});
  const status = h("p", {class: "muted", "aria-live": "polite"});
  const previous = h("button", {type: "button", class: "secondary"}, "Previous page");
  const next = h("button", {type: "button", class: "secondary"}, "Next page");
  const pager = h("nav", {class: "pager", "aria-label": "Product pages"}, previous, status, next);
  const error = h("div");
  mount(root, heading, error, list, pager);

  // cursors[i] opens page i; the API pages forward only, so we remember the way back.
  const cursors = [null];
  let page = 0;

  async function load() {
    previous.disabled = next.disabled = true;
    status.textContent = "Loading…";
    try {
      const params = new URLSearchParams({limit: String(PAGE_SIZE)});
      if (cursors[page]) params.set("cursor", cursors[page]);
      const answer = await api("GET", `/products?${params}`);
      mount(error);
      mount(list, answer.items.map(productCard));
      cursors[page + 1] = answer.next_cursor;
      status.textContent = answer.items.length ? `Page ${page + 1}` : "No products yet.";
      previous.disabled = page === 0;
      next.disabled = !answer.next_cursor;
    } catch (err) {
      status.textContent = "";
      mount(error, errorBox(err));
    }
  }

  previous.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  await load();
}
