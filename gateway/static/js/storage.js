/**
 * JSON kept in the browser (localStorage: the cart, the checkout, the address;
 * sessionStorage: the session, the catalog's cursors). One place reads it forgivingly:
 * a value that is missing or no longer parses (another version wrote it, or a person
 * edited it) is the caller's fallback, never an exception in the middle of a view.
 */

/** The value kept under `key` in `storage`, or `fallback` when none or unreadable. */
export function readJson(storage, key, fallback = null) {
  try {
    return JSON.parse(storage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

/** Keep `value` under `key` in `storage`; null or undefined removes it. setItem throws
 * when the storage is full or refused (private mode): callers that can do without it
 * catch that. */
export function writeJson(storage, key, value) {
  if (value === null || value === undefined) storage.removeItem(key);
  else storage.setItem(key, JSON.stringify(value));
}
