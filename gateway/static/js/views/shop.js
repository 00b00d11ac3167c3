/**
 * The catalog: search, category, sort and the page number live in the URL
 * (`#/?q=earl&category=tea&sort=price&page=2`), so a listing can be shared, reloaded
 * and gone back to. The API pages forward by cursor; the cursors met on the way are
 * kept per listing in sessionStorage, and a page opened cold (a shared link) is reached
 * by walking from the first.
 */

import {api} from "../api.js";
import {add, MAX_QUANTITY} from "../cart.js";
import {announce, errorBox, h, money, mount} from "../dom.js";
import {readJson, writeJson} from "../storage.js";

const PAGE_SIZE = 12;
const MAX_WALK = 20;  // pages walked to reach a cold `page=`; past it, page 1
const CURSORS_KEY = "op.catalog-cursors";
export const SORTS = [["", "Featured"], ["name", "Name, A to Z"], ["price", "Price, low to high"],
                      ["-price", "Price, high to low"], ["newest", "Newest first"]];

/** "brewing-gear" -> "Brewing gear". */
export function categoryLabel(slug) {
  const words = String(slug || "").replaceAll("-", " ");
  return words ? words[0].toUpperCase() + words.slice(1) : "";
}

/** The product's picture, or a neutral tile when it has none or it fails to load. */
export function productImage(product, {size = "card"} = {}) {
  const frame = h("div", {class: `product-image product-image-${size}`});
  if (!product.image_url) return mount(frame, h("span", {"aria-hidden": "true"}, "☕"));
  const img = h("img", {src: product.image_url, alt: "", loading: "lazy", width: 400,
                        height: 300});
  img.addEventListener("error", () => mount(frame, h("span", {"aria-hidden": "true"}, "☕")));
  return mount(frame, img);
}

/** A quantity and "Add to cart" for `product`, honest about its stock. */
export function addToCartForm(product) {
  const inputId = `qty-${product.sku}`;
  const soldOut = product.available <= 0;
  const quantity = h("input", {type: "number", id: inputId, name: "quantity", min: 1,
                               max: Math.max(1, Math.min(MAX_QUANTITY, product.available)),
                               value: 1, required: true, disabled: soldOut,
                               inputmode: "numeric"});
  return h("form", {
    class: "add-form",
    "aria-label": `Add ${product.name} to the cart`,
    onsubmit: (event) => {
      event.preventDefault();
      const wanted = Number.parseInt(quantity.value, 10);
      if (!Number.isInteger(wanted) || wanted < 1) {
        announce("Choose a quantity of at least 1.", "error");
        return;
      }
      const line = add(product, wanted);
      if (!line.limited) announce(`${product.name}: ${line.quantity} in your cart.`);
    },
  },
  h("div", {class: "field"}, h("label", {for: inputId}, "Quantity"), quantity),
  h("button", {type: "submit", disabled: soldOut, dataset: {sku: product.sku}},
    soldOut ? "Sold out" : "Add to cart"));
}

export function stockText(product) {
  if (product.available <= 0) return "Out of stock";
  return product.available <= 5 ? `Only ${product.available} left` : `${product.available} in stock`;
}

function productCard(product) {
  const link = `#/products/${encodeURIComponent(product.sku)}`;
  return h("li", {},
    h("article", {class: "card", dataset: {sku: product.sku}},
      h("a", {href: link, class: "card-image", tabindex: -1, "aria-hidden": "true"},
        productImage(product)),
      product.category ? h("a", {class: "chip", href: `#/?category=${product.category}`},
                           categoryLabel(product.category)) : null,
      h("h2", {}, h("a", {href: link}, product.name)),
      h("p", {class: "desc"}, product.description || ""),
      h("p", {class: "price"}, money(product.price_cents, product.currency)),
      h("p", {class: "stock"}, stockText(product)),
      addToCartForm(product)));
}

/** The listing the URL asks for: {q, category, sort, page}. */
function listingOf(query) {
  const page = Number.parseInt(query.get("page") || "1", 10);
  return {q: (query.get("q") || "").trim(), category: query.get("category") || "",
          sort: query.get("sort") || "", page: Number.isInteger(page) && page > 0 ? page : 1};
}

function hashOf({q, category, sort, page}) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (category) params.set("category", category);
  if (sort) params.set("sort", sort);
  if (page > 1) params.set("page", String(page));
  const text = params.toString();
  return text ? `/?${text}` : "/";
}

function knownCursors(key) {
  return readJson(sessionStorage, CURSORS_KEY, {})[key] || [null];
}

function keepCursors(key, cursors) {
  try {
    writeJson(sessionStorage, CURSORS_KEY, {...readJson(sessionStorage, CURSORS_KEY, {}),
                                            [key]: cursors});
  } catch { /* private mode: the walk from page 1 still works */ }
}

function filterForm(listing, categories, navigate) {
  const search = h("input", {type: "search", id: "shop-q", name: "q", value: listing.q,
                             maxlength: 200, placeholder: "Sencha, grinder, gift…",
                             enterkeyhint: "search"});
  const category = h("select", {id: "shop-category", name: "category"},
    h("option", {value: ""}, "All categories"),
    categories.map((c) => h("option", {value: c.category, selected: c.category === listing.category},
                            `${categoryLabel(c.category)} (${c.products})`)));
  const sort = h("select", {id: "shop-sort", name: "sort"},
    SORTS.map(([value, label]) => h("option", {value, selected: value === listing.sort}, label)));
  const go = () => navigate(hashOf({q: search.value.trim(), category: category.value,
                                    sort: sort.value, page: 1}));
  category.addEventListener("change", go);
  sort.addEventListener("change", go);
  return h("form", {class: "filters", role: "search", "aria-label": "Search the shop",
                    onsubmit: (event) => { event.preventDefault(); go(); }},
    h("div", {class: "field grow"}, h("label", {for: "shop-q"}, "Search"), search),
    h("div", {class: "field"}, h("label", {for: "shop-category"}, "Category"), category),
    h("div", {class: "field"}, h("label", {for: "shop-sort"}, "Sort by"), sort),
    h("button", {type: "submit"}, "Search"));
}

export async function shopView(root, {query, navigate}) {
  const listing = listingOf(query);
  const heading = h("h1", {tabindex: -1}, "Tea, coffee and the things to brew them");
  const list = h("ul", {class: "grid", "aria-label": "Products"});
  const status = h("p", {class: "muted", "aria-live": "polite"}, "Loading…");
  const previous = h("a", {class: "button secondary", href: `#${hashOf({...listing, page: listing.page - 1})}`,
                           hidden: listing.page === 1}, "Previous page");
  const next = h("a", {class: "button secondary", hidden: true}, "Next page");
  const pager = h("nav", {class: "pager", "aria-label": "Product pages"}, previous, status, next);
  const filters = h("div");
  const error = h("div");
  mount(root, heading, filters, error, list, pager);

  const categories = api("GET", "/categories").then((a) => a.items).catch(() => []);
  const key = JSON.stringify([listing.q, listing.category, listing.sort]);
  const cursors = knownCursors(key);

  async function pageAt(n) {
    const params = new URLSearchParams({limit: String(PAGE_SIZE)});
    for (const name of ["q", "category", "sort"]) if (listing[name]) params.set(name, listing[name]);
    if (cursors[n - 1]) params.set("cursor", cursors[n - 1]);
    const answer = await api("GET", `/products?${params}`);
    cursors[n] = answer.next_cursor;
    return answer;
  }

  async function load() {
    try {
      let page = Math.min(listing.page, MAX_WALK);
      // Walk to a page whose cursor this tab has not met yet (a shared or reloaded link).
      for (let n = 1; n < page; n += 1) {
        if (cursors[n] === undefined) await pageAt(n);
        if (cursors[n] === null) { page = n; break; }  // fewer pages than the link says
      }
      const answer = await pageAt(page);
      keepCursors(key, cursors);
      mount(error);
      mount(list, answer.items.map(productCard));
      const filtered = listing.q || listing.category;
      status.textContent = answer.items.length ? `Page ${page}`
        : filtered ? "Nothing matches: try other words or all categories." : "No products yet.";
      if (answer.next_cursor) {
        next.href = `#${hashOf({...listing, page: page + 1})}`;
        next.hidden = false;
      }
      previous.hidden = page === 1;
    } catch (err) {
      status.textContent = "";
      mount(error, errorBox(err, {retry: load}));
    }
  }

  mount(filters, filterForm(listing, await categories, navigate));
  await load();
}
