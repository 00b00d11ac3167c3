/**
 * The API reference at /docs: reads /openapi.json and renders it here, with no
 * library and nothing fetched from elsewhere (the page works offline and under a
 * 'self'-only Content-Security-Policy). Operations are grouped by tag, each with its
 * description (Markdown, markdown.js), parameters, request body, answers and a "Try it"
 * form (docs-try.js); schemas are unfolded from #/components/schemas references, a
 * cycle or a depth past MAX_DEPTH shown by name.
 */

import {h, mount} from "./dom.js";
import {tokenField, tryIt} from "./docs-try.js";
import {markdown} from "./markdown.js";

const METHODS = ["get", "post", "put", "patch", "delete"];
const MAX_DEPTH = 6;

function resolve(spec, ref) {
  if (!ref?.startsWith("#/")) return null;
  return ref.slice(2).split("/").reduce((node, key) => node?.[key.replaceAll("~1", "/").replaceAll("~0", "~")], spec);
}

function typeOf(schema) {
  if (schema.enum) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  let type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "";
  if (schema.format) type += ` (${schema.format})`;
  const limits = [["minimum", "≥"], ["maximum", "≤"], ["minLength", "length ≥"], ["maxLength", "length ≤"],
                  ["minItems", "items ≥"], ["maxItems", "items ≤"]]
    .filter(([key]) => schema[key] !== undefined).map(([key, sign]) => `${sign} ${schema[key]}`);
  if (schema.nullable) limits.push("nullable");
  return [type, ...limits].filter(Boolean).join(", ");
}

/** A schema as nested lists: `name: type — description`. */
function schemaTree(spec, schema, depth = 0, seen = []) {
  if (!schema) return h("span", {class: "muted"}, "any");
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    if (seen.includes(schema.$ref) || depth >= MAX_DEPTH) return h("span", {}, name);
    return schemaTree(spec, resolve(spec, schema.$ref), depth, [...seen, schema.$ref]);
  }
  for (const combo of ["allOf", "oneOf", "anyOf"]) {
    if (Array.isArray(schema[combo])) {
      return h("ul", {}, h("li", {}, combo === "allOf" ? "all of:" : "one of:"),
        schema[combo].map((part) => h("li", {}, schemaTree(spec, part, depth + 1, seen))));
    }
  }
  if (schema.type === "array" || schema.items) {
    return h("span", {}, `array of `, schemaTree(spec, schema.items, depth + 1, seen));
  }
  const properties = Object.entries(schema.properties || {});
  if (!properties.length) return h("span", {}, typeOf(schema) || "object");
  const required = new Set(schema.required || []);
  return h("ul", {}, properties.map(([name, prop]) => {
    const nested = prop.$ref || prop.properties || prop.items || prop.allOf || prop.oneOf || prop.anyOf;
    return h("li", {}, h("strong", {}, name), required.has(name) ? " (required)" : "", ": ",
      nested ? schemaTree(spec, prop, depth + 1, seen) : typeOf(prop) || "any",
      prop.description ? h("span", {class: "muted"}, ` — ${prop.description}`) : "");
  }));
}

function bodySchema(content) {
  const entry = content?.["application/json"] || Object.values(content || {})[0];
  return entry?.schema;
}

/** An answer's examples (`example`, or each of `examples`), folded. */
function examplesOf(content) {
  const media = Object.values(content || {})[0];
  if (!media) return "";
  const found = media.example !== undefined ? [["example", media.example]]
    : Object.entries(media.examples || {}).map(([name, ex]) => [name, ex.value]);
  return found.map(([name, value]) => h("details", {class: "example"},
    h("summary", {}, name === "example" ? "Example" : `Example: ${name}`),
    h("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2))));
}

function operation(spec, path, method, op, anchor) {
  const parts = [h("h3", {id: anchor, tabindex: -1},
    h("span", {class: `method method-${method}`}, method.toUpperCase()), h("code", {}, path),
    op.summary ? h("span", {}, op.summary) : "")];
  if (op.operationId) parts.push(h("p", {class: "hint"}, "operationId ", h("code", {}, op.operationId)));
  if (op.description) parts.push(h("div", {class: "description"}, markdown(op.description)));
  if (op.security?.length) parts.push(h("p", {class: "hint"}, `Auth: ${op.security.map((s) => Object.keys(s).join(" + ")).join(" or ")}`));
  const params = (op.parameters || []).map((p) => (p.$ref ? resolve(spec, p.$ref) : p)).filter(Boolean);
  if (params.length) {
    parts.push(h("h4", {}, "Parameters"), h("ul", {class: "schema"}, params.map((p) =>
      h("li", {}, h("strong", {}, p.name), ` (${p.in}${p.required ? ", required" : ""}): `,
        typeOf(p.schema || {}), p.description ? h("span", {class: "muted"}, ` — ${p.description}`) : ""))));
  }
  const request = op.requestBody?.$ref ? resolve(spec, op.requestBody.$ref) : op.requestBody;
  if (request) {
    parts.push(h("h4", {}, `Request body${request.required ? " (required)" : ""}`),
      h("div", {class: "schema"}, schemaTree(spec, bodySchema(request.content))));
  }
  const answers = Object.entries(op.responses || {});
  if (answers.length) {
    parts.push(h("h4", {}, "Answers"), h("ul", {}, answers.map(([code, answer]) => {
      const resolved = answer.$ref ? resolve(spec, answer.$ref) : answer;
      const schema = bodySchema(resolved?.content);
      // A shared error answer is the one error format (described at the top): its name
      // only, not the same schema unfolded under every operation.
      return h("li", {}, h("strong", {}, code), ` ${resolved?.description || ""}`,
        answer.$ref && schema ? h("span", {class: "muted"}, " (the error format)")
          : schema ? h("div", {class: "schema"}, schemaTree(spec, schema)) : "",
        examplesOf(resolved?.content));
    })));
  }
  parts.push(tryIt(spec, path, method, op, anchor, resolve));
  return h("section", {class: "operation", "aria-labelledby": anchor, dataset: {operationId: op.operationId || ""}}, parts);
}

function render(spec) {
  const groups = new Map();
  let n = 0;
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const tag = op.tags?.[0] || path.split("/")[1] || "root";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push({path, method, op, anchor: `op-${n++}`});
    }
  }
  const info = spec.info || {};
  document.getElementById("docs-title").textContent = `${info.title || "API"} ${info.version ? `(${info.version})` : ""}`;
  document.title = `${info.title || "API"} · reference`;
  mount(document.getElementById("docs-toc"), [...groups].map(([tag, ops]) => [
    h("h2", {}, tag),
    h("ul", {}, ops.map(({path, method, anchor}) =>
      h("li", {}, h("a", {href: `#${anchor}`}, `${method.toUpperCase()} ${path}`))))]));
  mount(document.getElementById("docs"),
    info.description ? h("div", {class: "description"}, markdown(info.description)) : "",
    tokenField(),
    h("p", {class: "hint"}, `OpenAPI ${spec.openapi || "?"}, ${n} operations. Raw: `,
      h("a", {href: "/openapi.json"}, "/openapi.json")),
    [...groups].map(([tag, ops]) => h("section", {"aria-label": tag}, h("h2", {}, tag),
      ops.map(({path, method, op, anchor}) => operation(spec, path, method, op, anchor)))));
}

async function main() {
  const target = document.getElementById("docs");
  try {
    const response = await fetch("/openapi.json", {headers: {Accept: "application/json"}});
    if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
    render(await response.json());
  } catch (err) {
    mount(target, h("p", {class: "error", role: "alert"},
      `The API description is not available: ${err.message}.`));
  } finally {
    target.removeAttribute("aria-busy");
  }
}

main();
