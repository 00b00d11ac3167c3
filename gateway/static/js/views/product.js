/** One product (`#/products/<sku>`): its picture, description, price, stock and "Add to
 * cart". An archived or unknown sku is the API's 404, said in words. */

import {api, ApiError} from "../api.js";
import {errorBox, h, money, mount} from "../dom.js";
import {addToCartForm, categoryLabel, productImage, stockText} from "./shop.js";

export async function productView(root, {params}) {
  const sku = decodeURIComponent(params[0]);
  const heading = h("h1", {tabindex: -1}, "Product");
  const body = h("div", {"aria-live": "polite"}, h("p", {class: "muted"}, "Loading…"));
  mount(root, h("p", {class: "crumbs"}, h("a", {href: "#/"}, "← All products")), heading, body);

  async function load() {
    try {
      const product = await api("GET", `/products/${encodeURIComponent(sku)}`);
      document.title = `${product.name} · ${document.title.split(" · ").pop()}`;
      heading.textContent = product.name;
      mount(body, h("article", {class: "product-page", dataset: {sku: product.sku}},
        productImage(product, {size: "large"}),
        h("div", {class: "product-facts"},
          product.category ? h("a", {class: "chip", href: `#/?category=${product.category}`},
                               categoryLabel(product.category)) : null,
          h("p", {class: "price"}, money(product.price_cents, product.currency)),
          h("p", {class: "stock", id: "product-stock"}, stockText(product)),
          h("p", {}, product.description || ""),
          addToCartForm(product),
          h("p", {class: "muted"}, `Product code ${product.sku}`))));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        heading.textContent = "Not in the shop";
        mount(body, h("p", {}, "This product is not sold here (any more). ",
                      h("a", {href: "#/"}, "See what is.")));
        return;
      }
      mount(body, errorBox(err, {retry: load}));
    }
  }
  await load();
}
