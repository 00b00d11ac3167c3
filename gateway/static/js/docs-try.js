/**
 * "Try it" on the API reference: a form per operation that sends a real request to
 * this gateway and shows the answer's status and body.
 *
 * The form has a field per path, query and header parameter, a JSON body prefilled
 * with the operation's example, and uses the page's one bearer token (the field at
 * the top of /docs; prefilled with the storefront's token when this tab is signed
 * in). Requests go to this origin only: what the CSP allows, and what the reference is
 * about. The answer is shown as text (pretty JSON when it is JSON), never as markup.
 */

import {h} from "./dom.js";
import {readJson} from "./storage.js";

const STORE_SESSION = "op.session";  // the storefront's tokens (api.js), this tab only

/** The page's token field: one for every form. */
export function tokenField() {
  const token = readJson(sessionStorage, STORE_SESSION)?.access_token || "";
  return h("p", {class: "try-token"},
    h("label", {for: "try-token"}, "Bearer token for “Try it” "),
    h("input", {id: "try-token", type: "password", autocomplete: "off", value: token,
                placeholder: "access_token from POST /auth/login"}),
    h("span", {class: "muted"}, token ? " (this tab's sign-in)" : ""));
}

function example(op) {
  const json = op.requestBody?.content?.["application/json"];
  if (!json) return null;
  if (json.example !== undefined) return JSON.stringify(json.example, null, 2);
  return "{}";
}

function urlOf(path, fields) {
  let url = path.replace(/{([^}]+)}/g, (_, name) =>
    encodeURIComponent(fields.path[name]?.value.trim() || `{${name}}`));
  const query = new URLSearchParams();
  for (const [name, input] of Object.entries(fields.query)) {
    if (input.value.trim()) query.set(name, input.value.trim());
  }
  const search = query.toString();
  if (search) url += `?${search}`;
  return url;
}

async function send(method, path, fields, output) {
  const headers = {Accept: "application/json"};
  const token = document.getElementById("try-token")?.value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  for (const [name, input] of Object.entries(fields.header)) {
    if (input.value.trim()) headers[name] = input.value.trim();
  }
  const init = {method: method.toUpperCase(), headers};
  if (fields.body && fields.body.value.trim()) {
    headers["Content-Type"] = "application/json";
    init.body = fields.body.value;
  }
  const url = urlOf(path, fields);
  output.status.textContent = `${init.method} ${url} …`;
  delete output.status.dataset.status;  // set again when the answer is in
  output.body.textContent = "";
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON (HTML, metrics text, an empty 204): shown as it came
    }
    output.status.textContent = `${response.status} ${response.statusText}`;
    output.status.dataset.status = String(response.status);
    output.body.textContent = shown || "(no body)";
  } catch (err) {
    output.status.textContent = `no answer: ${err.message}`;
    output.status.dataset.status = "0";
  }
}

/** The "Try it" panel of one operation, or null where a form makes no sense (the
 * endless event stream: use EventSource or curl -N). */
export function tryIt(spec, path, method, op, anchor, resolve) {
  const answers = Object.values(op.responses || {}).map((a) => (a.$ref ? resolve(spec, a.$ref) : a));
  if (answers.some((a) => a?.content?.["text/event-stream"])) return null;
  const fields = {path: {}, query: {}, header: {}, body: null};
  const rows = [];
  for (const raw of op.parameters || []) {
    const p = raw.$ref ? resolve(spec, raw.$ref) : raw;
    if (!p || !(p.in in fields) || p.name === "access_token") continue;
    const id = `${anchor}-${p.in}-${p.name}`;
    const input = h("input", {id, name: p.name, autocomplete: "off",
                              placeholder: p.schema?.enum ? p.schema.enum.join(" | ") : (p.schema?.format || "")});
    fields[p.in][p.name] = input;
    rows.push(h("label", {for: id}, `${p.name} (${p.in}${p.required ? ", required" : ""})`), input);
  }
  const body = example(op);
  if (body !== null) {
    const id = `${anchor}-body`;
    fields.body = h("textarea", {id, rows: Math.min(14, body.split("\n").length + 1), spellcheck: "false"});
    fields.body.value = body;
    rows.push(h("label", {for: id}, "JSON body"), fields.body);
  }
  const output = {status: h("p", {class: "try-status", role: "status"}),
                  body: h("pre", {class: "try-answer"})};
  const form = h("form", {class: "try-form", onsubmit: (event) => {
    event.preventDefault();
    send(method, path, fields, output);
  }}, rows, h("button", {type: "submit"}, `Send ${method.toUpperCase()}`));
  return h("details", {class: "try-it"}, h("summary", {}, "Try it"), form, output.status,
    output.body);
}
