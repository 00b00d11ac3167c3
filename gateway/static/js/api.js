/**
 * The public HTTP API, as any client uses it: JSON in and out, the contract's error
 * format, and the signed-in user's tokens.
 *
 * Tokens live in sessionStorage (this tab, until it closes). An access token about to
 * expire, or refused with a 401, is renewed through POST /auth/refresh, which rotates
 * the refresh token: the old one stops working. Only one rotation runs at a time,
 * because re-using a spent refresh token revokes its whole family (a logout).
 */

import {readJson, writeJson} from "./storage.js";

const SESSION_KEY = "op.session";
const RENEW_EARLY_MS = 30_000;

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const error = body?.error || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || {};
    this.retryAfterS = retryAfterSeconds(retryAfter);  // null when the answer set none
  }
}

/** A Retry-After header (delay-seconds or an HTTP date) as whole seconds, or null. */
function retryAfterSeconds(value) {
  if (value == null || value === "") return null;
  if (/^\d+$/.test(value.trim())) return Number.parseInt(value, 10);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export function session() {
  return readJson(sessionStorage, SESSION_KEY);
}

function store(value) {
  writeJson(sessionStorage, SESSION_KEY, value || null);
  window.dispatchEvent(new CustomEvent("op:session"));
}

function fromPair(pair, user = null) {
  return {access_token: pair.access_token, refresh_token: pair.refresh_token,
          expires_at: Date.now() + Number(pair.expires_in || 0) * 1000, user};
}

export const currentUser = () => session()?.user ?? null;

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return {error: {code: "http_error", message: text.slice(0, 200)}};
  }
}

let rotating = null;

/** Rotate the refresh token (one rotation at a time); a refused one ends the session. */
export function refresh() {
  rotating ??= rotate().finally(() => { rotating = null; });
  return rotating;
}

async function rotate() {
  const current = session();
  if (!current?.refresh_token) {
    throw new ApiError(401, {error: {code: "unauthorized", message: "Please log in."}});
  }
  const response = await fetch("/auth/refresh", {
    method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json"},
    body: JSON.stringify({refresh_token: current.refresh_token})});
  const body = await parse(response);
  if (!response.ok) {
    if (response.status === 401) store(null);
    throw new ApiError(response.status, body);
  }
  store(fromPair(body, current.user));
}

/** A valid access token (renewed first when it is about to expire), or null. */
export async function accessToken() {
  const current = session();
  if (!current) return null;
  if (Date.now() >= current.expires_at - RENEW_EARLY_MS) await refresh();
  return session()?.access_token ?? null;
}

/** The session is over (no token, a refused refresh, or a 401 even with a fresh token):
 * forget it and say so with an `op:session-ended` event, so the page can send the
 * reader to log in and back (app.js); the cart, in localStorage, is not touched. */
function ended(err) {
  if (session()) store(null);
  window.dispatchEvent(new CustomEvent("op:session-ended"));
  return err;
}

/** `api("POST", "/orders", {body, headers, auth: true})` -> the answer's JSON, or ApiError.
 * A call with `auth` whose session is over throws the 401 after `op:session-ended`. */
export async function api(method, path, {body, headers = {}, auth = false} = {}) {
  try {
    return await call(method, path, {body, headers, auth});
  } catch (err) {
    // A 401 from /auth/... with a live session judges what was sent (a wrong current
    // password), not the session.
    const over = auth && err instanceof ApiError && err.status === 401
      && (!session() || !path.startsWith("/auth/"));
    throw over ? ended(err) : err;
  }
}

async function call(method, path, {body, headers, auth}) {
  const send = async () => {
    const sent = {Accept: "application/json", ...headers};
    if (body !== undefined) sent["Content-Type"] = "application/json";
    if (auth) {
      const token = await accessToken();
      if (!token) throw new ApiError(401, {error: {code: "unauthorized", message: "Please log in."}});
      sent.Authorization = `Bearer ${token}`;
    }
    return fetch(path, {method, headers: sent,
                        body: body === undefined ? undefined : JSON.stringify(body)});
  };
  let response = await send();
  if (response.status === 401 && auth && session()) {
    await refresh();  // e.g. the token expired between the check and the server
    response = await send();
  }
  const data = await parse(response);
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("Retry-After"));
  return data;
}

export async function login(email, password) {
  store(fromPair(await api("POST", "/auth/login", {body: {email, password}})));
  const user = await api("GET", "/users/me", {auth: true});
  store({...session(), user});
  return user;
}

/** The OpenID providers the gateway is set up for: [{name, label, login_url}]. */
export async function oidcProviders() {
  return (await api("GET", "/auth/oidc/providers")).items;
}

/** Spend the one-time code a provider's sign-in left in `#/oidc?code=`: signed in. */
export async function oidcSignIn(code) {
  store(fromPair(await api("POST", "/auth/oidc/exchange", {body: {code}})));
  const user = await api("GET", "/users/me", {auth: true});
  store({...session(), user});
  return user;
}

export function register(email, password, name) {
  return api("POST", "/auth/register", {body: {email, password, ...(name ? {name} : {})}});
}

/** Ask for a password-reset mail (the answer is the same for any email). */
export function forgotPassword(email) {
  return api("POST", "/auth/password/forgot", {body: {email}});
}

/** Spend a reset mail's link with the new password. */
export function resetPassword(token, password) {
  return api("POST", "/auth/password/reset", {body: {token, password}});
}

/** Spend the welcome mail's link: resolves once the address is confirmed. */
export function verifyEmail(token) {
  return api("POST", "/auth/verify", {body: {token}});
}

export async function logout() {
  const current = session();
  store(null);
  if (current?.refresh_token) {
    try {
      await api("POST", "/auth/logout", {body: {refresh_token: current.refresh_token}});
    } catch {
      // the session is gone locally either way
    }
  }
}
