/**
 * The admin's catalog: every product, archived ones too (GET /admin/products), with its
 * stock (GET /admin/inventory/{sku}); a form that adds one (POST /products) or edits one
 * (PATCH /products/{sku}: name, description, price, category, image); archive and bring
 * back (PATCH `{active}`); restock (POST /products/{sku}/restock).
 */

import {api} from "../api.js";
import {announce, describeError, h, money, mount, table} from "../dom.js";
import {act, field, pagedList} from "./admin-kit.js";

const sku = (product) => encodeURIComponent(product.sku);

function stockCell(name, value) {
  return h("td", {class: "num", dataset: {field: name}}, String(value ?? "—"));
}

function restockForm(product, cells) {
  const quantity = h("input", {type: "number", id: `restock-${product.sku}`, min: 1,
                               max: 1000000, value: 10, required: true});
  const form = h("form", {"aria-label": `Restock ${product.sku}`},
    h("label", {for: quantity.id, class: "sr-only"}, `Units to add to ${product.name}`),
    quantity, h("button", {type: "submit"}, "Restock"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(form.querySelector("button"), async () => {
      const after = await api("POST", `/products/${sku(product)}/restock`,
        {auth: true, body: {quantity: Number.parseInt(quantity.value, 10)}});
      for (const name of Object.keys(cells)) cells[name].textContent = String(after[name]);
      return `${product.sku}: ${after.on_hand} on hand, ${after.available} available.`;
    });
  });
  return form;
}

/** "12.5" -> 1250; null when it is not a price. */
function cents(text) {
  const found = String(text).trim().match(/^(\d{1,7})(?:[.,](\d{1,2}))?$/);
  if (!found) return null;
  return Number(found[1]) * 100 + Number((found[2] || "0").padEnd(2, "0"));
}

/** The add/edit form; `product` null adds one. `saved(product)` follows a success. */
function productForm(product, saved, cancel) {
  const editing = Boolean(product);
  const input = (attrs) => h("input", {...attrs});
  const controls = {
    sku: input({name: "sku", required: true, maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}"}),
    name: input({name: "name", required: true, maxlength: 200, value: product?.name}),
    description: h("textarea", {name: "description", rows: 3, maxlength: 2000},
                   product?.description || ""),
    price: input({name: "price", required: true, inputmode: "decimal",
                  value: product ? (product.price_cents / 100).toFixed(2) : ""}),
    category: input({name: "category", maxlength: 40, pattern: "[a-z0-9][a-z0-9\\-]{0,39}",
                     value: product?.category}),
    image_url: input({name: "image_url", maxlength: 500, value: product?.image_url}),
    stock: input({name: "stock", type: "number", min: 0, max: 1000000000, value: 0}),
  };
  const problem = h("div", {"aria-live": "assertive"});
  const preview = h("img", {alt: "", class: "product-thumb", hidden: !product?.image_url,
                            src: product?.image_url || null});
  controls.image_url.addEventListener("change", () => {
    preview.hidden = !controls.image_url.value;
    if (controls.image_url.value) preview.src = controls.image_url.value;
  });
  const submit = h("button", {type: "submit"}, editing ? "Save changes" : "Add product");
  const close = h("button", {type: "button", class: "secondary"}, "Cancel");
  close.addEventListener("click", cancel);
  const form = h("form", {class: "admin-form", id: "product-form",
                          "aria-labelledby": "product-form-title"},
    h("h3", {id: "product-form-title"}, editing ? `Edit ${product.sku}` : "New product"),
    editing ? null : field("SKU", controls.sku, "letters, digits, . _ -; it cannot change"),
    field("Name", controls.name), field("Description", controls.description),
    field("Price", controls.price, `in ${product?.currency || "USD"}, e.g. 12.50`),
    field("Category", controls.category, "a lower-case slug such as tea or brewing-gear"),
    field("Image URL", controls.image_url, "a path on this site (/static/img/...) or an https URL"),
    preview,
    editing ? null : field("Units in stock", controls.stock),
    problem, h("div", {class: "actions"}, submit, close));

  /** The body: every field to add; to edit, the fields that changed (blank clears). */
  function body() {
    const price = cents(controls.price.value);
    if (price === null || price < 1) throw new Error("Price must be an amount such as 12.50");
    const wanted = {name: controls.name.value.trim(), price_cents: price,
                    description: controls.description.value.trim() || null,
                    category: controls.category.value.trim() || null,
                    image_url: controls.image_url.value.trim() || null};
    if (!editing) {
      const fresh = {sku: controls.sku.value.trim(),
                     stock: Number.parseInt(controls.stock.value || "0", 10)};
      for (const [key, value] of Object.entries(wanted)) if (value !== null) fresh[key] = value;
      return fresh;
    }
    return Object.fromEntries(Object.entries(wanted)
      .filter(([key, value]) => value !== (product[key] ?? null)));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    mount(problem);
    submit.disabled = true;
    try {
      const sent = body();
      if (editing && !Object.keys(sent).length) return cancel();
      const answer = editing
        ? await api("PATCH", `/products/${sku(product)}`, {auth: true, body: sent})
        : await api("POST", "/products", {auth: true, body: sent});
      announce(`${answer.sku} ${editing ? "saved" : "added"}.`);
      await saved(answer);
    } catch (err) {
      mount(problem, h("p", {class: "error", role: "alert"}, describeError(err)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function productRow(product, stock, edit, reload) {
  const cells = {on_hand: stockCell("on_hand", stock?.on_hand),
                 reserved: stockCell("reserved", stock?.reserved),
                 available: stockCell("available", stock?.available ?? product.available)};
  const editButton = h("button", {type: "button", class: "secondary"}, "Edit",
                       h("span", {class: "sr-only"}, ` ${product.sku}`));
  editButton.addEventListener("click", () => edit(product));
  const archive = h("button", {type: "button", class: product.active ? "danger" : "secondary"},
    product.active ? "Archive" : "Bring back", h("span", {class: "sr-only"}, ` ${product.sku}`));
  archive.addEventListener("click", () => act(archive, async () => {
    const after = await api("PATCH", `/products/${sku(product)}`,
                            {auth: true, body: {active: !product.active}});
    return `${after.sku} ${after.active ? "is listed again" : "is archived: not listed, not orderable"}.`;
  }, reload));
  const picture = product.image_url
    ? h("img", {src: product.image_url, alt: "", class: "product-thumb"})
    : h("span", {class: "product-thumb", "aria-hidden": "true"});
  return h("tr", {dataset: {sku: product.sku, active: String(product.active !== false)}},
    h("td", {}, h("div", {class: "admin-product"}, picture, h("div", {},
      h("strong", {}, product.name), h("br"), h("code", {class: "muted"}, product.sku),
      product.active === false ? [" ", h("span", {class: "status status-archived"}, "archived")] : ""))),
    h("td", {dataset: {field: "category"}}, product.category || "—"),
    h("td", {class: "num", dataset: {field: "price"}}, money(product.price_cents, product.currency)),
    cells.on_hand, cells.reserved, cells.available,
    h("td", {}, h("div", {class: "admin-row-actions"}, restockForm(product, cells),
                  h("div", {class: "actions"}, editButton, archive))));
}

export async function productsPanel(section) {
  const editor = h("div", {id: "product-editor"});
  const add = h("button", {type: "button", id: "new-product"}, "New product");
  const list = pagedList("Products", (params) => api("GET", `/admin/products?${params}`, {auth: true}),
    async (answer) => {
      const stocks = await Promise.all(answer.items.map((p) =>
        api("GET", `/admin/inventory/${sku(p)}`, {auth: true}).catch(() => null)));
      return table("Catalog and stock, archived products too",
        ["Product", "Category", "Price", "On hand", "Reserved", "Available", "Restock, edit, archive"],
        answer.items.map((p, i) => productRow(p, stocks[i], open, list.load)),
        {numeric: [2, 3, 4, 5]});
    });
  const close = () => { mount(editor); add.hidden = false; add.focus(); };
  function open(product) {
    add.hidden = true;
    mount(editor, productForm(product, async () => { close(); await list.load(); }, close));
    editor.querySelector("input, textarea").focus();
  }
  add.addEventListener("click", () => open(null));
  mount(section, h("h2", {id: "stock-title"}, "Products and stock"),
        h("p", {class: "hint"}, "Archived products stay here; the shop neither lists nor sells them."),
        add, editor, list.element);
  await list.reload();
}
