/**
 * Reading and following KV buckets: every registry that keeps bucket state in memory (keys, revocations, mutes, app
 * limits) watches updates the same way, until the service's AbortSignal ends it; every read tells a value from a
 * delete or purge marker the same way.
 */
import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { Logger } from "./logger.js";

/** Calls `onEntry` for every change (PUT, DEL, PURGE) made to `kv` from now on, until `signal` aborts. */
export async function followBucket(
  kv: KV,
  signal: AbortSignal,
  log: Logger,
  what: string,
  onEntry: (e: KvWatchEntry) => void,
): Promise<void> {
  const watch = await kv.watch({ include: "updates" });
  signal.addEventListener("abort", () => watch.stop(), { once: true });
  void (async () => {
    for await (const e of watch) onEntry(e);
  })().catch((err: unknown) => log.error({ err }, `${what} watch ended`));
}

/** True when `e` holds a value: an entry that exists and is not a delete or purge marker. */
export function hasValue<E extends { operation: string }>(e: E | null): e is E & { operation: "PUT" } {
  return e !== null && e.operation === "PUT";
}
