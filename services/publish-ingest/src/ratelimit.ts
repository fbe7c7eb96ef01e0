/**
 * Per-API-key rate limit for publish-ingest (docs/HTTP-API.md: 429 + Retry-After). A token bucket per key id: `rate`
 * messages per second refill, up to `burst`. A batch takes one token per message. Checked on every publish, so it
 * does no allocation on the hot path beyond the first request of a key.
 */
import { SwitchboardError } from "@switchboard/protocol";
import { KeyedBuckets, secondsUntil } from "@switchboard/core";

export interface RateLimitOptions {
  /** Messages per second per key; 0 disables the limit. */
  rate: number;
  /** Largest burst per key (tokens held when idle). */
  burst: number;
  now?: () => number;
}

export interface RateLimiter {
  /**
   * Takes up to `want` tokens for `kid`; returns how many were granted (0..want). Throws `rate_limited` with
   * `retryAfter` when none are available.
   */
  take(kid: string, want: number): number;
}

export function createRateLimiter(opts: RateLimitOptions): RateLimiter {
  if (opts.rate <= 0) return { take: (_kid, want) => want };
  const now = opts.now ?? Date.now;
  const buckets = new KeyedBuckets(opts.rate, opts.burst);
  return {
    take(kid, want) {
      const b = buckets.get(kid, now());
      if (b.tokens < 1) {
        const retryAfter = secondsUntil(b, 1, opts.rate);
        throw new SwitchboardError(
          "rate_limited",
          `this API key may publish ${opts.rate} messages per second (burst ${opts.burst}); retry after ${retryAfter} s`,
          { retryAfter },
        );
      }
      const granted = Math.min(want, Math.floor(b.tokens));
      b.tokens -= granted;
      return granted;
    },
  };
}
