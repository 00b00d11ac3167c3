/**
 * What the admin pages share: a button that runs one action at a time, a labelled
 * field, a cursor pager over a list route (`{items, next_cursor}`), and a question
 * asked in the page (not `window.confirm`, which a screen reader and a test can miss).
 */

import {announce, errorBox, h, mount} from "../dom.js";

/** Run `work` with `button` disabled; announce what it answers, then `done()`. */
export async function act(button, work, done = async () => {}) {
  button.disabled = true;
  try {
    announce(await work());
    await done();
  } catch (err) {
    announce(err.message, "error");
  } finally {
    button.disabled = false;
  }
}

let fieldCount = 0;

/** A label with its control: `field("Name", h("input", {...}), "a hint")`. */
export function field(label, control, hint = null) {
  fieldCount += 1;
  control.id ||= `admin-field-${fieldCount}`;
  const hintId = hint ? `${control.id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", {class: "field"}, h("label", {for: control.id}, label), control,
           hint ? h("span", {class: "hint", id: hintId}, hint) : null);
}

/**
 * A list page after page: `load(path with ?limit&cursor)` -> answer; `render(answer)`
 * -> the nodes to show. Returns {element, reload}; `reload()` starts at page one.
 */
export function pagedList(label, pathOf, render, {limit = 20} = {}) {
  const body = h("div", {"aria-live": "polite"});
  const previous = h("button", {type: "button", class: "secondary"}, "Previous page");
  const next = h("button", {type: "button", class: "secondary"}, "Next page");
  const element = h("div", {}, body,
    h("nav", {class: "pager", "aria-label": `${label} pages`}, previous, next));
  let cursors = [null];
  let page = 0;

  async function load() {
    previous.disabled = next.disabled = true;
    try {
      const params = new URLSearchParams({limit: String(limit)});
      if (cursors[page]) params.set("cursor", cursors[page]);
      const answer = await pathOf(params);
      mount(body, await render(answer));
      cursors[page + 1] = answer.next_cursor;
      previous.disabled = page === 0;
      next.disabled = !answer.next_cursor;
    } catch (err) {
      mount(body, errorBox(err, {retry: load}));
    }
  }

  previous.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  const reload = () => { cursors = [null]; page = 0; return load(); };
  return {element, reload, load};
}

/**
 * A question in the page, with its answers as buttons: `ask(into, text, {yes, no,
 * yesLabel, noLabel})`; the safe answer (no) gets the focus.
 */
export function ask(into, text, {yes, no = () => {}, yesLabel = "Yes", noLabel = "No",
                                 id = "admin-confirm"}) {
  const sure = h("button", {type: "button", class: "danger", id: `${id}-yes`}, yesLabel);
  const keep = h("button", {type: "button", class: "secondary", id: `${id}-no`}, noLabel);
  const box = h("div", {class: "notice", id, role: "alertdialog", "aria-labelledby": `${id}-text`},
    h("p", {id: `${id}-text`}, text), h("div", {class: "actions"}, sure, keep));
  const close = () => { if (box.isConnected) mount(into); };  // not what `yes` put there
  sure.addEventListener("click", async () => {
    sure.disabled = keep.disabled = true;
    try {
      await yes();
    } finally {
      close();
    }
  });
  keep.addEventListener("click", () => { close(); no(); });
  mount(into, box);
  setTimeout(() => keep.focus(), 0);
}
