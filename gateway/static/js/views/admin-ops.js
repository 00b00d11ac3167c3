/**
 * Operations panels of the admin page: the dead letters of every service, with
 * replay and purge (GET /admin/dead-letters, POST /admin/dead-letters/{service}/replay,
 * DELETE /admin/dead-letters/{service}), and notifications that failed for good, with
 * retry (GET /admin/notifications?status=failed, POST /admin/notifications/{id}/retry).
 */

import {api} from "../api.js";
import {announce, badge, errorBox, h, mount, table, when} from "../dom.js";

/** {service: {count, messages}} from the answer (`{services: {...}, total}`). */
function byService(answer) {
  const services = answer?.services ?? {};
  if (Array.isArray(services)) {
    return Object.fromEntries(services.map((s) => [s.service, s]));
  }
  return services;
}

async function act(button, work, done) {
  button.disabled = true;
  try {
    announce(await work());
    await done();
  } catch (err) {
    announce(err.message, "error");
    button.disabled = false;
  }
}

export async function deadLettersPanel(section) {
  const body = h("div");
  const reload = h("button", {type: "button", class: "secondary"}, "Reload");
  mount(section, h("h2", {id: "dead-title"}, "Dead letters"),
        h("p", {class: "hint"}, "Events a service gave up on after its retries."), body, reload);

  async function load() {
    try {
      const services = byService(await api("GET", "/admin/dead-letters", {auth: true}));
      const rows = Object.entries(services).map(([service, info]) => {
        const path = `/admin/dead-letters/${encodeURIComponent(service)}`;
        const replay = h("button", {type: "button", disabled: !info.count}, "Replay",
          h("span", {class: "sr-only"}, ` ${service}`));
        const purge = h("button", {type: "button", class: "danger", disabled: !info.count}, "Purge",
          h("span", {class: "sr-only"}, ` ${service}`));
        replay.addEventListener("click", () => act(replay, async () =>
          `${service}: replayed ${(await api("POST", `${path}/replay`, {auth: true})).replayed}`, load));
        purge.addEventListener("click", () => {
          if (!window.confirm(`Drop every dead letter of ${service}? They cannot be replayed after.`)) return;
          act(purge, async () =>
            `${service}: purged ${(await api("DELETE", path, {auth: true})).purged}`, load);
        });
        const messages = (info.messages || []).map((m) =>
          h("li", {}, h("code", {}, m.event_type || "?"), ` ${m.event_id || ""} after ${m.attempts ?? "?"} attempt(s): `,
            h("span", {class: "muted"}, m.error || "")));
        return h("tr", {dataset: {service}},
          h("td", {}, service), h("td", {class: "num"}, String(info.count ?? 0)),
          h("td", {}, messages.length ? h("ul", {}, messages) : "—"),
          h("td", {}, h("div", {class: "actions"}, replay, purge)));
      });
      mount(body, table("Dead letters per service", ["Service", "Count", "Messages", "Actions"],
                        rows, {numeric: [1]}));
    } catch (err) {
      mount(body, errorBox(err));
    }
  }

  reload.addEventListener("click", load);
  await load();
}

export async function failedNotificationsPanel(section) {
  const body = h("div");
  const reload = h("button", {type: "button", class: "secondary"}, "Reload");
  mount(section, h("h2", {id: "failed-title"}, "Failed notifications"),
        h("p", {class: "hint"}, "Emails that failed after every automatic retry."), body, reload);

  async function load() {
    try {
      const page = await api("GET", "/admin/notifications?status=failed&limit=50", {auth: true});
      if (!page.items.length) {
        mount(body, h("p", {}, "None: every notification went out."));
        return;
      }
      mount(body, table("Failed notifications", ["Subject", "Kind", "Channel", "Status", "Created", ""],
        page.items.map((n) => {
          const retry = h("button", {type: "button"}, "Retry", h("span", {class: "sr-only"}, ` ${n.subject || n.id}`));
          retry.addEventListener("click", () => act(retry, async () => {
            const after = await api("POST", `/admin/notifications/${n.id}/retry`, {auth: true, body: {}});
            return `Notification ${n.id.slice(0, 8)}: ${after.status}`;
          }, load));
          return [n.subject || "—", n.kind, n.channel, badge(n.status), when(n.created_at), retry];
        })));
    } catch (err) {
      mount(body, errorBox(err));
    }
  }

  reload.addEventListener("click", load);
  await load();
}
