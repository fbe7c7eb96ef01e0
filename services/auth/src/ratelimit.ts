/**
 * Per-key rate limit on token issuance (docs/HTTP-API.md: 429 + Retry-After): a token bucket per API key in this
 * process, charged one unit per token issued (a `count` of 100 costs 100).
 */
import { SwitchboardError } from "@switchboard/protocol";
import { KeyedBuckets, secondsUntil } from "@switchboard/core";

export interface RateLimitOptions {
  /** Tokens per second per key. */
  rate: number;
  /** Bucket size: the most tokens a key can take at once. */
  burst: number;
}

export class IssuanceLimiter {
  private readonly buckets: KeyedBuckets;

  constructor(private readonly o: RateLimitOptions) {
    this.buckets = new KeyedBuckets(o.rate, o.burst);
  }

  /** Charges `cost` tokens to `kid`, or throws `rate_limited` (429) with the seconds to wait. */
  take(kid: string, cost: number, now = Date.now()): void {
    const b = this.buckets.get(kid, now);
    if (cost > this.o.burst)
      throw new SwitchboardError(
        "rate_limited",
        `count ${cost} is more than key ${kid} may issue at once (burst ${this.o.burst}); ask for fewer tokens per call`,
        { retryAfter: 1 },
      );
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return;
    }
    const retryAfter = secondsUntil(b, cost, this.o.rate);
    throw new SwitchboardError(
      "rate_limited",
      `token issuance for key ${kid} is over ${this.o.rate} tokens/s (burst ${this.o.burst}); retry after ${retryAfter} s`,
      { retryAfter },
    );
  }
}
