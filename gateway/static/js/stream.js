/**
 * The signed-in user's live stream: one EventSource on GET /events/stream for the
 * whole page, shared by every view through `onLive(fn)`.
 *
 * EventSource cannot send headers, so the access token goes in `?access_token=`. The
 * server ends the stream when that token expires; EventSource would then reconnect
 * with the same, expired, token and give up on the 401. So on any error we close it
 * ourselves and open a new one with a fresh token (renewed through the refresh token
 * if need be) and `last_event_id`, which makes the gateway replay what we missed.
 * Listeners get ("open", {reconnected}) too, so a view can re-read what a longer gap
 * might have cost it. Recent events are kept, so a view opened after an event (the
 * order page, right after checkout) still sees it.
 */

import {accessToken} from "./api.js";

const EVENTS = ["order.status", "notification"];
const RECENT_MAX = 200;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 15_000;

const listeners = new Set();
const recentEvents = [];
let source = null;
let lastEventId = null;
let retryMs = RETRY_MIN_MS;
let retryTimer = null;
let openedBefore = false;
let wanted = false;

function setState(state) {
  const indicator = document.getElementById("live-indicator");
  if (indicator) {
    indicator.dataset.state = state;
    indicator.textContent = `Live updates: ${state}`;
  }
}

function emit(name, data) {
  for (const listener of [...listeners]) {
    try {
      listener(name, data);
    } catch (err) {
      console.error("live listener failed", err);
    }
  }
}

async function open() {
  retryTimer = null;
  let token = null;
  try {
    token = await accessToken();
  } catch {
    token = null;  // the refresh token was refused: the session is over
  }
  if (!wanted) return;
  if (!token) {
    stopLive();
    return;
  }
  const params = new URLSearchParams({access_token: token});
  if (lastEventId) params.set("last_event_id", lastEventId);
  const es = new EventSource(`/events/stream?${params}`);
  source = es;
  es.addEventListener("open", () => {
    retryMs = RETRY_MIN_MS;
    setState("connected");
    emit("open", {reconnected: openedBefore});
    openedBefore = true;
  });
  for (const name of EVENTS) {
    es.addEventListener(name, (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      recentEvents.push({name, data});
      if (recentEvents.length > RECENT_MAX) recentEvents.shift();
      emit(name, data);
    });
  }
  es.addEventListener("error", () => {
    if (source !== es) return;
    es.close();  // reopen ourselves, with a token that is still valid
    source = null;
    if (!wanted) return;
    setState("reconnecting");
    retryTimer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  });
}

/** Open the stream (no-op if it is open or opening). */
export function startLive() {
  if (wanted) return;
  wanted = true;
  setState("connecting");
  open();
}

/** Close it (on logout): nothing more arrives, nothing is kept. */
export function stopLive() {
  wanted = false;
  clearTimeout(retryTimer);
  retryTimer = null;
  source?.close();
  source = null;
  lastEventId = null;
  openedBefore = false;
  recentEvents.length = 0;
  setState("off");
}

/** `fn(name, data)` for every event from now on; returns the unsubscribe function. */
export function onLive(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The events received lately, oldest first: [{name, data}]. */
export function recent() {
  return [...recentEvents];
}
