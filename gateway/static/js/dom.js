/**
 * DOM helpers for the storefront. Elements are built with `h()`, never from markup
 * strings: text from the API always lands in text nodes, so nothing it holds can
 * become HTML (no XSS), and no inline style or script is ever created (CSP).
 */

/** `h("a", {href: "#/", class: "x", onclick: fn}, "text", child)` -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything in `parent` with `children`. */
export function mount(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

/** Integer minor units as money: 1250, "USD" -> "$12.50". */
export function money(cents, currency = "USD") {
  try {
    return new Intl.NumberFormat(undefined, {style: "currency", currency}).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** An ISO-8601 instant as a <time> element in the reader's locale. */
export function when(iso) {
  if (!iso) return "—";
  return h("time", {datetime: iso}, new Date(iso).toLocaleString());
}

/** A status as a badge; the text is the status itself (colour is never the only cue). */
export function badge(status, attrs = {}) {
  const text = String(status || "—");
  return h("span", {class: `status status-${text.toLowerCase()}`, ...attrs}, text);
}

let toastTimer = null;

/** Say something in the polite live region (seen, and read by screen readers). */
export function announce(message, kind = "info") {
  const toast = document.getElementById("toast");
  if (!toast) return;
  toast.dataset.kind = kind;
  toast.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.textContent = ""; }, 7000);
}

/** An error as a message paragraph announced at once (role=alert). */
export function errorBox(err) {
  return h("p", {class: "error", role: "alert"}, describeError(err));
}

export function describeError(err) {
  if (!err) return "Something went wrong.";
  const fields = err.details?.fields;
  if (Array.isArray(fields) && fields.length) {
    return `${err.message}: ${fields.map((f) => `${f.field} ${f.message}`).join("; ")}`;
  }
  return err.message || String(err);
}

/** A table in a keyboard-scrollable region: `rows` are arrays of cells (or <tr>s). */
export function table(caption, headers, rows, {numeric = []} = {}) {
  const head = h("tr", {}, headers.map((text, i) =>
    h("th", {scope: "col", class: numeric.includes(i) ? "num" : null}, text)));
  const body = rows.map((row) => (row instanceof Node ? row : h("tr", {},
    row.map((cell, i) => h("td", {class: numeric.includes(i) ? "num" : null}, cell)))));
  return h("div", {class: "table-wrap", role: "region", "aria-label": caption, tabindex: 0},
    h("table", {}, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body)));
}

/** A random UUID (crypto.randomUUID exists on secure origins only). */
export function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
