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

/** An error as a message announced at once (role=alert): in plain words, the fields at
 * fault as a list, and a Retry button when `retry` (the failed load, again) is given. */
export function errorBox(err, {retry} = {}) {
  const problems = fieldProblems(err);
  const box = h("div", {class: "error-box", role: "alert"},
    h("p", {class: "error"}, problems.length ? "Please check:" : describeError(err)),
    problems.length ? h("ul", {class: "error"}, problems.map((text) => h("li", {}, text))) : null);
  if (retry) {
    const again = h("button", {type: "button", class: "secondary"}, "Retry");
    again.addEventListener("click", () => {
      again.disabled = true;
      again.textContent = "Retrying…";
      retry();
    });
    box.append(h("div", {class: "actions"}, again));
  }
  return box;
}

// What a person calls the fields the API names (dotted paths of the request body).
const FIELD_NAMES = {
  email: "Email", password: "Password", name: "Name", new_password: "New password",
  current_password: "Current password", quantity: "Quantity", token: "Link",
  "payment.token": "Payment card", items: "Cart", expected_total_cents: "Total",
  "shipping_address.name": "Full name", "shipping_address.line1": "Address",
  "shipping_address.line2": "Address line 2", "shipping_address.city": "City",
  "shipping_address.postal_code": "Postal code", "shipping_address.country": "Country",
  "shipping_address.phone": "Phone", shipping_address: "Shipping address",
};

/** "shipping_address.postal_code" -> "Postal code"; "items.0.quantity" -> "Quantity of
 * item 1"; an unknown one in words ("price_cents" -> "Price cents"). */
export function fieldName(path) {
  const key = String(path || "");
  if (FIELD_NAMES[key]) return FIELD_NAMES[key];
  const line = key.match(/^items\.(\d+)\.(\w+)$/);
  if (line) return `${line[2] === "sku" ? "Product" : "Quantity"} of item ${Number(line[1]) + 1}`;
  const last = key.split(".").pop().replaceAll("_", " ");
  return last ? last[0].toUpperCase() + last.slice(1) : "A field";
}

// The request checker's (pydantic's) wording, as a shopper would say it.
const PLAIN = [
  [/^Field required$/, () => "is required"],
  [/^String should have at least 1 character/, () => "is required"],
  [/^String should have at least (\d+) characters?/, (n) => `needs at least ${n} characters`],
  [/^String should have at most (\d+) characters?/, (n) => `can be at most ${n} characters`],
  [/^Input should be less than or equal to (\d+)/, (n) => `can be at most ${n}`],
  [/^Input should be greater than or equal to (\d+)/, (n) => `must be at least ${n}`],
  [/^Input should be greater than (\d+)/, (n) => `must be more than ${n}`],
  [/^Input should be a valid integer/, () => "must be a whole number"],
  [/^Input should be a valid (string|number|boolean)/, (kind) => `must be a ${kind}`],
  [/^List should have at least (\d+) items?/, (n) => `needs at least ${n}`],
  [/^List should have at most (\d+) items?/, (n) => `can have at most ${n}`],
  [/^Extra inputs are not permitted/, () => "is not something we expected"],
  [/^value is not a valid email address: (.*)$/, (why) => `is not a valid email address (${why})`],
  [/^not a valid email address: (.*)$/, (why) => `is not a valid email address (${why})`],
];

function plainMessage(field, message) {
  const text = String(message || "is not valid");
  if (field === "shipping_address.country" && /pattern|ISO/.test(text)) {
    return "must be the country's two-letter code, such as GB, DE or US";
  }
  for (const [pattern, say] of PLAIN) {
    const found = text.match(pattern);
    if (found) return say(...found.slice(1));
  }
  if (/^String should match pattern/.test(text)) return "is not in the expected form";
  // A service's own sentence starts with the field's path: say the field's name instead.
  return text.startsWith(`${field} `) ? text.slice(field.length + 1) : text;
}

/** Each field at fault, in words ("Postal code can be at most 20 characters"); [] when
 * the error names none. Both shapes of the contract's 400 details are read: the
 * gateway's {fields: [{field, message}]} and a service's {field} beside its message. */
export function fieldProblems(err) {
  const details = err?.details || {};
  let fields = Array.isArray(details.fields) ? details.fields : [];
  if (!fields.length && typeof details.field === "string") {
    fields = [{field: details.field, message: err.message}];
  }
  return fields.map(({field, message}) => `${fieldName(field)} ${plainMessage(field, message)}`);
}

/** An error in one sentence a person understands. */
export function describeError(err) {
  if (!err) return "Something went wrong.";
  if (err instanceof TypeError) {  // fetch() itself failed: no answer at all
    return "We could not reach the shop. Check your connection and try again.";
  }
  const problems = fieldProblems(err);
  if (problems.length) return `Please check: ${problems.join("; ")}.`;
  if (err.code === "service_unavailable" || err.code === "upstream_timeout") {
    return "The shop is busy or briefly unavailable. Please try again in a moment.";
  }
  if (err.code === "rate_limited") {
    const wait = err.retryAfterS ? ` in ${err.retryAfterS} s` : " in a moment";
    return `That was a lot of requests at once. Please try again${wait}.`;
  }
  if (err.code === "internal_error") return "Something went wrong on our side. Please try again.";
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
