/**
 * A small, safe Markdown renderer for the API reference's descriptions.
 *
 * It builds DOM nodes with h(), never HTML strings, so text in a description can
 * never become markup (raw HTML in the source stays visible text), and it needs no
 * inline style or script (CSP 'self'). What it knows is what the descriptions use:
 *
 *   paragraphs (separated by a blank line; single newlines are spaces),
 *   "- " or "* " bullet lists (an indented line continues the item),
 *   ``` fenced code blocks,
 *   `code`, **strong**, *emphasis*, and [text](link) where the link is a path on this
 *   site, a #fragment or an http(s) URL (anything else is shown as plain text).
 */

import {h} from "./dom.js";

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\([^)\s]+\))/;
const SAFE_LINK = /^(\/(?!\/)|#|https?:\/\/)/;

/** The inline parts of one line of text: text nodes and code/strong/em/a elements. */
export function inline(text) {
  const parts = [];
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      parts.push(rest);
      break;
    }
    if (match.index) parts.push(rest.slice(0, match.index));
    const token = match[0];
    if (match[1]) parts.push(h("code", {}, token.slice(1, -1)));
    else if (match[2]) parts.push(h("strong", {}, inline(token.slice(2, -2))));
    else if (match[3]) parts.push(h("em", {}, inline(token.slice(1, -1))));
    else {
      const [, label, href] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token);
      parts.push(SAFE_LINK.test(href) ? h("a", {href}, inline(label)) : token);
    }
    rest = rest.slice(match.index + token.length);
  }
  return parts;
}

/** `source` (Markdown) as a list of block elements: p, ul, pre. */
export function markdown(source) {
  const blocks = [];
  let paragraph = [];
  let list = null;
  let fence = null;
  const flush = () => {
    if (paragraph.length) blocks.push(h("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
    if (list) blocks.push(h("ul", {}, list.map((item) => h("li", {}, inline(item.join(" "))))));
    list = null;
  };
  for (const line of String(source || "").split("\n")) {
    if (fence) {
      if (line.trim().startsWith("```")) {
        blocks.push(h("pre", {}, h("code", {}, fence.join("\n"))));
        fence = null;
      } else fence.push(line);
      continue;
    }
    if (line.trim().startsWith("```")) {
      flush();
      fence = [];
    } else if (!line.trim()) {
      flush();
    } else if (/^\s*[-*] /.test(line)) {
      if (paragraph.length) flush();
      list = list || [];
      list.push([line.replace(/^\s*[-*] /, "")]);
    } else if (list && /^\s+\S/.test(line)) {
      list[list.length - 1].push(line.trim());
    } else {
      if (list) flush();
      paragraph.push(line.trim());
    }
  }
  if (fence) blocks.push(h("pre", {}, h("code", {}, fence.join("\n"))));
  flush();
  return blocks;
}
