/**
 * A page's JSON answer (`{"messages":[…],"next":…}`, plus `"last"` on the NATS endpoint) built by concatenation
 * when the cache (cache.ts) already holds each message's JSON: a cached page then costs no serialization of its
 * messages. The text is exactly `JSON.stringify` of the page (same fields, same order); a page without prepared
 * JSON (the uncached reader's) is stringified as before.
 */
import type { Page } from "./pager.js";

/** Each message's `JSON.stringify`, in the page's order, for pages the cache cut. */
const prepared = new WeakMap<Page, readonly string[]>();

/** Records `json[i]` = JSON.stringify(page.messages[i]) for `page`; returns the page. */
export function withMessagesJson(page: Page, json: readonly string[]): Page {
  prepared.set(page, json);
  return page;
}

/** JSON.stringify(last === undefined ? page : { ...page, last }), without re-serializing prepared messages. */
export function pageJson(page: Page, last?: number): string {
  const json = prepared.get(page);
  if (json === undefined || json.length !== page.messages.length || Object.keys(page).length !== 2)
    return JSON.stringify(last === undefined ? page : { ...page, last });
  const tail = last === undefined ? "}" : `,"last":${JSON.stringify(last)}}`;
  return `{"messages":[${json.join(",")}],"next":${JSON.stringify(page.next)}${tail}`;
}
