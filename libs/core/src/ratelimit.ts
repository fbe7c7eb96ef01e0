/**
 * Token buckets for the rate limits of the contract: token issuance per API key (auth), HTTP publishes per API key
 * (publish-ingest), client publishes and other requests per socket and IVS room messages (gateway). Each caller
 * decides what a refusal says; the refill arithmetic and the per-key table live here once.
 */

export interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

/** Adds what `rate` per second refilled since the bucket's last refill, up to `burst`. */
export function refill(b: Bucket, rate: number, burst: number, now: number): void {
  if (now > b.at) {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
  }
}

/** Refills `b`, then takes one token; false (nothing taken) when less than one is left. */
export function takeOne(b: Bucket, rate: number, burst: number, now: number): boolean {
  refill(b, rate, burst, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

/** Whole seconds until `cost` tokens are available again (at least 1): the Retry-After of a refusal. */
export function secondsUntil(b: Bucket, cost: number, rate: number): number {
  return Math.max(1, Math.ceil((cost - b.tokens) / rate));
}

/** One bucket per key (API key id), created full; the table is cleared past `maxKeys` so it cannot grow unbounded. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** The bucket of `key`, refilled up to `now`. */
  get(key: string, now: number): Bucket {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else refill(b, this.rate, this.burst, now);
    return b;
  }
}
