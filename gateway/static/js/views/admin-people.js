/**
 * Who uses the shop: customers (GET /admin/users?q=, part of an email or a name), each
 * with a link to their orders; and API clients (GET /admin/clients), added with POST
 * /admin/clients (the secret is in that answer only, so it is shown once, here) and
 * revoked with DELETE /admin/clients/{client_id} after a question.
 */

import {api} from "../api.js";
import {describeError, h, mount, table, when} from "../dom.js";
import {act, ask, field, pagedList} from "./admin-kit.js";

const SCOPES = ["inventory:read", "inventory:write", "catalog:write"];

export async function customersPanel(section, {query, navigate}) {
  const search = h("input", {type: "search", name: "q", maxlength: 100, id: "customer-search",
                             value: query.get("q") || ""});
  const form = h("form", {role: "search", class: "actions admin-filters", "aria-label": "Customers"},
    h("label", {for: search.id}, "Email or name"), search,
    h("button", {type: "submit"}, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = search.value.trim();
    const path = `/admin/customers${q ? `?${new URLSearchParams({q})}` : ""}`;
    if (location.hash === `#${path}`) list.reload();  // the same search again
    else navigate(path);  // the search is in the URL
  });
  const list = pagedList("Customers", (params) => {
    if (search.value.trim()) params.set("q", search.value.trim());
    return api("GET", `/admin/users?${params}`, {auth: true});
  }, (answer) => (answer.items.length
    ? table("Customers", ["Email", "Name", "Role", "Since", ""], answer.items.map((user) =>
        h("tr", {dataset: {user: user.id}}, h("td", {}, user.email), h("td", {}, user.name || "—"),
          h("td", {}, user.role), h("td", {}, when(user.created_at)),
          h("td", {}, h("a", {href: `#/admin/orders?user_id=${user.id}`}, "Orders",
                        h("span", {class: "sr-only"}, ` of ${user.email}`))))))
    : h("p", {}, "Nobody matches.")));
  mount(section, h("h2", {id: "customers-title"}, "Customers"), form, list.element);
  await list.reload();
}

function clientForm(created) {
  const name = h("input", {name: "name", required: true, maxlength: 100});
  const role = h("select", {name: "role"}, h("option", {value: "client"}, "client"),
                 h("option", {value: "admin"}, "admin"));
  const scopes = SCOPES.map((scope) => h("input", {type: "checkbox", value: scope,
                                                   id: `scope-${scope.replace(":", "-")}`}));
  const problem = h("div");
  const submit = h("button", {type: "submit"}, "Create client");
  const form = h("form", {class: "admin-form", "aria-labelledby": "new-client-title"},
    h("h3", {id: "new-client-title"}, "New API client"), field("Name", name), field("Role", role),
    h("fieldset", {}, h("legend", {}, "Scopes (for the client role)"),
      scopes.map((box) => h("div", {class: "radio"}, box, h("label", {for: box.id}, box.value)))),
    problem, h("div", {class: "actions"}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    mount(problem);
    submit.disabled = true;
    try {
      const client = await api("POST", "/admin/clients", {auth: true, body: {
        name: name.value.trim(), role: role.value,
        scopes: scopes.filter((box) => box.checked).map((box) => box.value)}});
      form.reset();
      await created(client);
    } catch (err) {
      mount(problem, h("p", {class: "error", role: "alert"}, describeError(err)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The new client's secret, once: it cannot be read again. */
function secretNotice(client) {
  return h("div", {class: "notice", id: "client-secret", role: "status"},
    h("p", {}, h("strong", {}, `${client.name}: copy the secret now. `),
      "It is shown this once; the shop keeps only its hash."),
    h("dl", {class: "facts"}, h("dt", {}, "client_id"), h("dd", {}, h("code", {}, client.client_id)),
      h("dt", {}, "client_secret"), h("dd", {}, h("code", {class: "secret"}, client.client_secret))));
}

export async function clientsPanel(section) {
  const shown = h("div");
  const question = h("div");
  const body = h("div");

  async function load() {
    try {
      const answer = await api("GET", "/admin/clients", {auth: true});
      mount(body, answer.items.length ? table("API clients",
        ["Client id", "Name", "Role", "Created", ""], answer.items.map((client) => {
          const revoke = h("button", {type: "button", class: "danger"}, "Revoke",
                           h("span", {class: "sr-only"}, ` ${client.name}`));
          revoke.addEventListener("click", () => ask(question,
            [h("strong", {}, `Revoke ${client.name}? `), "Its tokens stop working within seconds."],
            {yesLabel: "Yes, revoke", noLabel: "Keep it", id: "revoke-confirm",
             no: () => revoke.focus(),
             yes: () => act(revoke, async () => {
               await api("DELETE", `/admin/clients/${encodeURIComponent(client.client_id)}`, {auth: true});
               return `${client.name} is revoked.`;
             }, load)}));
          return h("tr", {dataset: {client: client.client_id}}, h("td", {}, h("code", {}, client.client_id)),
            h("td", {}, client.name), h("td", {}, client.role), h("td", {}, when(client.created_at)),
            h("td", {}, revoke));
        })) : h("p", {}, "No API client yet."));
    } catch (err) {
      mount(body, h("p", {class: "error", role: "alert"}, describeError(err)));
    }
  }

  mount(section, h("h2", {id: "clients-title"}, "API clients"),
    h("p", {class: "hint"}, "Programs that call the API with their own id and secret (OAuth2 client credentials)."),
    clientForm(async (client) => { mount(shown, secretNotice(client)); await load(); }),
    shown, question, body);
  await load();
}
