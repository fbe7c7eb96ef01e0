import { describe, expect, it } from "vitest";
import { SwitchboardError } from "@switchboard/protocol";
import { createRateLimiter } from "./ratelimit.js";

describe("per-key rate limiter", () => {
  it("grants the burst, refills at the rate, and refuses with retryAfter when empty", () => {
    let now = 0;
    const limiter = createRateLimiter({ rate: 2, burst: 3, now: () => now });
    expect(limiter.take("a", 2)).toBe(2);
    expect(limiter.take("a", 5)).toBe(1);
    let refused: unknown;
    try {
      limiter.take("a", 1);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(SwitchboardError);
    expect((refused as SwitchboardError).code).toBe("rate_limited");
    expect((refused as SwitchboardError).retryAfter).toBe(1);
    expect(limiter.take("b", 3)).toBe(3); // keys are independent
    now = 500; // half a second at 2/s refills one
    expect(limiter.take("a", 3)).toBe(1);
    now = 10_000; // never above the burst
    expect(limiter.take("a", 10)).toBe(3);
  });

  it("does not limit when the rate is 0", () => {
    const limiter = createRateLimiter({ rate: 0, burst: 1 });
    expect(limiter.take("a", 1000)).toBe(1000);
  });
});
