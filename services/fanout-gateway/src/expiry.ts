/**
 * Token and session expiry for every socket of the gateway on one shared wheel instead of timers per socket
 * (docs/PROTOCOL.md: token.expiring 30 s before `exp`, close 4001 at `exp`, close 4003 at `sessionExp`). Token
 * times are whole seconds, so sockets are kept in one bucket per second (a Set, so a closing socket leaves its
 * bucket at once and nothing is held for a closed socket); the gateway's 250 ms sweep calls tick(), which handles
 * every second that has passed since the last tick. Two setTimeout objects and their closures per socket cost
 * about 450 bytes each, and every refresh re-armed them.
 */
import type { Conn } from "./connection.js";

export const TOKEN_EXPIRING_LEAD_S = 30;

export interface ExpiryActions {
  /** The token expires in TOKEN_EXPIRING_LEAD_S: push token.expiring. */
  expiring(c: Conn, expMs: number): void;
  expired(c: Conn): void;
  sessionExpired(c: Conn): void;
}

export class ExpiryWheel {
  private readonly byExp = new Map<number, Set<Conn>>();
  private readonly bySession = new Map<number, Set<Conn>>();
  /** Every second up to and including this one has been handled. */
  private done: number;

  constructor(
    private readonly act: ExpiryActions,
    nowMs = Date.now(),
  ) {
    this.done = Math.floor(nowMs / 1000);
  }

  /** (Re)places the socket by its claims' exp and sessionExp. */
  arm(c: Conn, nowMs = Date.now()): void {
    this.disarm(c);
    const exp = c.claims.exp;
    c.expiringDone = (exp - TOKEN_EXPIRING_LEAD_S) * 1000 <= nowMs;
    c.wheelExp = this.add(this.byExp, Math.max(exp, this.done + 1), c);
    const session = c.claims.sessionExp;
    if (session !== undefined) c.wheelSession = this.add(this.bySession, Math.max(session, this.done + 1), c);
  }

  disarm(c: Conn): void {
    if (c.wheelExp !== 0) this.remove(this.byExp, c.wheelExp, c);
    if (c.wheelSession !== 0) this.remove(this.bySession, c.wheelSession, c);
    c.wheelExp = 0;
    c.wheelSession = 0;
  }

  /** Acts on every second from the last tick to `nowMs`. */
  tick(nowMs = Date.now()): void {
    const upTo = Math.floor(nowMs / 1000);
    for (let s = this.done + 1; s <= upTo; s++) {
      this.done = s;
      const soon = this.byExp.get(s + TOKEN_EXPIRING_LEAD_S);
      if (soon !== undefined)
        for (const c of soon)
          if (!c.expiringDone) {
            c.expiringDone = true;
            this.act.expiring(c, c.claims.exp * 1000);
          }
      this.fire(this.byExp, s, (c) => this.act.expired(c));
      this.fire(this.bySession, s, (c) => this.act.sessionExpired(c));
    }
  }

  /** Sockets on the wheel (for tests). */
  get size(): number {
    let n = 0;
    for (const b of this.byExp.values()) n += b.size;
    return n;
  }

  private fire(buckets: Map<number, Set<Conn>>, s: number, fn: (c: Conn) => void): void {
    const due = buckets.get(s);
    if (due === undefined) return;
    buckets.delete(s);
    for (const c of due) {
      if (buckets === this.byExp) c.wheelExp = 0;
      else c.wheelSession = 0;
      fn(c);
    }
  }

  private add(buckets: Map<number, Set<Conn>>, s: number, c: Conn): number {
    let b = buckets.get(s);
    if (b === undefined) buckets.set(s, (b = new Set()));
    b.add(c);
    return s;
  }

  private remove(buckets: Map<number, Set<Conn>>, s: number, c: Conn): void {
    const b = buckets.get(s);
    if (b === undefined) return;
    b.delete(c);
    if (b.size === 0) buckets.delete(s);
  }
}
