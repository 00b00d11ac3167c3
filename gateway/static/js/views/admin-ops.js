/**
 * Operations panels of the admin page: the dead letters of every service, replayed or
 * purged one by one (POST /admin/dead-letters/{service}/{event_id}/replay, DELETE
 * /admin/dead-letters/{service}/{event_id}) or all of a service at once (POST
 * /admin/dead-letters/{service}/replay, DELETE /admin/dead-letters/{service}); and the
 * notification log with each one's recipient, by status, with retry (GET
 * /admin/notifications?status=, POST /admin/notifications/{id}/retry).
 */

import {api} from "../api.js";
import {badge, errorBox, h, mount, table, when} from "../dom.js";
import {act, ask, pagedList} from "./admin-kit.js";

/** {service: {count, messages}} from the answer (`{services: {...}, total}`). */
function byService(answer) {
  const services = answer?.services ?? {};
  if (Array.isArray(services)) {
    return Object.fromEntries(services.map((s) => [s.service, s]));
  }
  return services;
}

function letterItem(service, letter, question, load) {
  const path = `/admin/dead-letters/${encodeURIComponent(service)}/${encodeURIComponent(letter.event_id)}`;
  const what = `${letter.event_type || "event"} ${letter.event_id || ""}`.trim();
  const replay = h("button", {type: "button", class: "secondary"}, "Replay",
                   h("span", {class: "sr-only"}, ` ${what}`));
  const purge = h("button", {type: "button", class: "danger"}, "Purge",
                  h("span", {class: "sr-only"}, ` ${what}`));
  replay.addEventListener("click", () => act(replay, async () =>
    `${what}: replayed ${(await api("POST", `${path}/replay`, {auth: true})).replayed}`, load));
  purge.addEventListener("click", () => ask(question,
    [h("strong", {}, `Drop ${what}? `), "It cannot be replayed after."],
    {yesLabel: "Yes, purge it", noLabel: "Keep it", id: "purge-confirm", no: () => purge.focus(),
     yes: () => act(purge, async () =>
       `${what}: purged ${(await api("DELETE", path, {auth: true})).purged}`, load)}));
  return h("li", {dataset: {event: letter.event_id || ""}},
    h("code", {}, letter.event_type || "?"), ` ${letter.event_id || "(no event id)"}`,
    ` after ${letter.attempts ?? "?"} attempt(s): `, h("span", {class: "muted"}, letter.error || ""),
    // A letter without an event id (a body that did not parse) goes with its service's.
    letter.event_id ? h("span", {class: "actions"}, replay, purge) : null);
}

export async function deadLettersPanel(section) {
  const body = h("div");
  const question = h("div");
  const reload = h("button", {type: "button", class: "secondary"}, "Reload");
  mount(section, h("h2", {id: "dead-title"}, "Dead letters"),
        h("p", {class: "hint"}, "Events a service gave up on after its retries."),
        question, body, reload);

  async function load() {
    try {
      const services = byService(await api("GET", "/admin/dead-letters", {auth: true}));
      const rows = Object.entries(services).map(([service, info]) => {
        const path = `/admin/dead-letters/${encodeURIComponent(service)}`;
        const replay = h("button", {type: "button", disabled: !info.count}, "Replay all",
          h("span", {class: "sr-only"}, ` ${service}`));
        const purge = h("button", {type: "button", class: "danger", disabled: !info.count}, "Purge all",
          h("span", {class: "sr-only"}, ` ${service}`));
        replay.addEventListener("click", () => act(replay, async () =>
          `${service}: replayed ${(await api("POST", `${path}/replay`, {auth: true})).replayed}`, load));
        purge.addEventListener("click", () => ask(question,
          [h("strong", {}, `Drop every dead letter of ${service}? `), "They cannot be replayed after."],
          {yesLabel: "Yes, purge all", noLabel: "Keep them", id: "purge-confirm",
           no: () => purge.focus(),
           yes: () => act(purge, async () =>
             `${service}: purged ${(await api("DELETE", path, {auth: true})).purged}`, load)}));
        const letters = (info.messages || []).map((m) => letterItem(service, m, question, load));
        return h("tr", {dataset: {service}},
          h("td", {}, service), h("td", {class: "num"}, String(info.count ?? 0)),
          h("td", {}, letters.length ? h("ul", {class: "letters"}, letters) : "—"),
          h("td", {}, h("div", {class: "actions"}, replay, purge)));
      });
      mount(body, table("Dead letters per service", ["Service", "Count", "Messages", "All of them"],
                        rows, {numeric: [1]}));
    } catch (err) {
      mount(body, errorBox(err, {retry: load}));
    }
  }

  reload.addEventListener("click", load);
  await load();
}

function notificationRow(n, reload) {
  const retry = h("button", {type: "button", class: "secondary"}, "Retry",
                  h("span", {class: "sr-only"}, ` ${n.subject || n.id}`));
  retry.addEventListener("click", () => act(retry, async () => {
    const after = await api("POST", `/admin/notifications/${n.id}/retry`, {auth: true, body: {}});
    return `Notification to ${n.recipient}: ${after.status}`;
  }, reload));
  return h("tr", {dataset: {notification: n.id, status: n.status}},
    h("td", {}, when(n.created_at)), h("td", {}, n.kind), h("td", {}, n.channel),
    h("td", {dataset: {field: "recipient"}}, n.recipient || "—"),
    h("td", {}, n.subject || "—"), h("td", {}, badge(n.status)),
    h("td", {class: "num"}, String(n.attempts ?? "—")),
    h("td", {class: "muted"}, n.last_error || ""),
    h("td", {}, n.status === "sent" ? "" : retry));
}

export async function notificationsPanel(section) {
  const status = h("select", {id: "notification-status-filter"},
    h("option", {value: ""}, "Any status"),
    ["failed", "pending", "sent"].map((s) => h("option", {value: s}, s)));
  const list = pagedList("Notifications", (params) => {
    if (status.value) params.set("status", status.value);
    return api("GET", `/admin/notifications?${params}`, {auth: true});
  }, (answer) => (answer.items.length
    ? table("Notifications", ["Created", "Kind", "Channel", "Recipient", "Subject", "Status",
                              "Attempts", "Last error", ""],
            answer.items.map((n) => notificationRow(n, () => list.load())), {numeric: [6]})
    : h("p", {}, status.value === "failed" ? "None failed: every notification went out."
      : "No notification.")));
  status.addEventListener("change", () => list.reload());
  mount(section, h("h2", {id: "failed-title"}, "Notifications"),
    h("p", {class: "hint"}, "Every mail and SMS, whom it went to, and those that failed after every automatic retry."),
    h("div", {class: "actions admin-filters"}, h("label", {for: status.id}, "Status"), status),
    list.element);
  await list.reload();
}
