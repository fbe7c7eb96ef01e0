/**
 * Per-key rate limit on token issuance (DESIGN §3, §6: 429 + Retry-After): a token bucket per API key in this
 * process, charged one unit per token issued (a `count` of 100 costs 100).
 */
import { SwitchboardError } from "@switchboard/protocol";

export interface RateLimitOptions {
  /** Tokens per second per key. */
  rate: number;
  /** Bucket size: the most tokens a key can take at once. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 100_000;

export class IssuanceLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly o: RateLimitOptions) {}

  /** Charges `cost` tokens to `kid`, or throws `rate_limited` (429) with the seconds to wait. */
  take(kid: string, cost: number, now = Date.now()): void {
    let b = this.buckets.get(kid);
    if (b === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
      b = { tokens: this.o.burst, at: now };
      this.buckets.set(kid, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) * this.o.rate) / 1000);
      b.at = now;
    }
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
    const retryAfter = Math.max(1, Math.ceil((cost - b.tokens) / this.o.rate));
    throw new SwitchboardError(
      "rate_limited",
      `token issuance for key ${kid} is over ${this.o.rate} tokens/s (burst ${this.o.burst}); retry after ${retryAfter} s`,
      { retryAfter },
    );
  }
}
