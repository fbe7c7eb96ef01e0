/**
 * The shared expiry wheel (expiry.ts) with explicit clock values: token.expiring 30 s before exp (only when armed
 * before then), close at exp and at sessionExp, re-arming on refresh, and nothing kept for a disarmed socket.
 */
import { describe, expect, it } from "vitest";
import { EffectivePermissions, Permissions, type TokenClaims } from "@switchboard/protocol";
import { nativeAdapter } from "./adapters/native.js";
import { newConn, type Conn } from "./connection.js";
import { ExpiryWheel } from "./expiry.js";

const T0 = 1_000_000_000_000; // ms, a whole second

function conn(id: string, exp: number, sessionExp?: number): Conn {
  const claims: TokenClaims = { aud: "switchboard", iat: 0, exp, jti: id, permissions: {} };
  if (sessionExp !== undefined) claims.sessionExp = sessionExp;
  return newConn({
    id,
    appId: "app",
    kid: "k",
    claims,
    permissions: new EffectivePermissions(new Permissions({}), undefined),
    limits: {
      maxRoomsPerSocket: 1,
      publishRate: 1,
      publishBurst: 1,
      maxOutboundBytes: 1,
      maxFrameBytes: 1,
      maxConnections: 1,
      origins: undefined,
    },
    adapter: nativeAdapter,
  });
}

function wheel(): { w: ExpiryWheel; events: string[] } {
  const events: string[] = [];
  const w = new ExpiryWheel(
    {
      expiring: (c, expMs) => events.push(`expiring ${c.id} ${expMs}`),
      expired: (c) => events.push(`expired ${c.id}`),
      sessionExpired: (c) => events.push(`session ${c.id}`),
    },
    T0,
  );
  return { w, events };
}

describe("ExpiryWheel", () => {
  it("pushes token.expiring 30 s before exp and closes at exp, not a tick earlier", () => {
    const { w, events } = wheel();
    const s0 = T0 / 1000;
    w.arm(conn("a", s0 + 100), T0);
    w.tick(T0 + 69_999);
    expect(events).toEqual([]);
    w.tick(T0 + 70_000);
    expect(events).toEqual([`expiring a ${(s0 + 100) * 1000}`]);
    w.tick(T0 + 99_999);
    expect(events).toEqual([`expiring a ${(s0 + 100) * 1000}`]);
    w.tick(T0 + 100_250);
    expect(events).toEqual([`expiring a ${(s0 + 100) * 1000}`, "expired a"]);
    expect(w.size).toBe(0);
  });

  it("sends no token.expiring for a token armed within its last 30 s, and closes one already past at the next tick", () => {
    const { w, events } = wheel();
    const s0 = T0 / 1000;
    w.arm(conn("late", s0 + 10), T0);
    w.arm(conn("past", s0 - 2), T0);
    w.tick(T0 + 1000);
    expect(events).toEqual(["expired past"]);
    w.tick(T0 + 10_000);
    expect(events).toEqual(["expired past", "expired late"]);
  });

  it("closes at sessionExp, and a re-arm (refresh) moves the socket to its new exp", () => {
    const { w, events } = wheel();
    const s0 = T0 / 1000;
    const c = conn("s", s0 + 50, s0 + 500);
    w.arm(c, T0);
    c.claims = { ...c.claims, exp: s0 + 1000 };
    w.arm(c, T0 + 5000);
    w.tick(T0 + 60_000);
    expect(events).toEqual([]);
    w.tick(T0 + 500_000);
    expect(events).toEqual(["session s"]);
  });

  it("forgets a disarmed socket", () => {
    const { w, events } = wheel();
    const s0 = T0 / 1000;
    const c = conn("d", s0 + 40, s0 + 45);
    w.arm(c, T0);
    expect(w.size).toBe(1);
    w.disarm(c);
    expect(w.size).toBe(0);
    w.tick(T0 + 60_000);
    expect(events).toEqual([]);
  });
});
