/**
 * The fault tests' workload and their one verification (test/faults/): publishers that never stop while a fault
 * happens and record every answer; subscribers whose sockets resume from their last offset if a gateway closes them;
 * and `verify`, which checks the promises of docs/HTTP-API.md ("No false acks") and docs/PROTOCOL.md (offsets)
 * against what history holds afterwards, with exact offsets.
 */
import { expect } from "vitest";
import type { ServiceHandle } from "@switchboard/dev";
import { publishHttp, type Services } from "./cluster.js";
import { connectTo, signLocal } from "./gateway.js";
import type { Frame, TestSocket } from "./ws.js";

export interface Outcome {
  room: string;
  /** The message's data: `{w, i}` (worker, its i-th publish), unique in the run. */
  data: { w: number; i: number };
  status: number;
  retryAfter: string | null;
  code: string | undefined;
  offset: number | undefined;
  /** When the answer arrived (ms since the epoch). */
  at: number;
}

/** Promises that resolve once a predicate over recorded state holds, checked on every record (no sleeping). */
class Waiters {
  private readonly list: Array<{ pred: () => boolean; done: () => void }> = [];

  wait(pred: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry = {
        pred,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.list.splice(this.list.indexOf(entry), 1);
        reject(new Error(describe()));
      }, timeoutMs);
      this.list.push(entry);
    });
  }

  check(): void {
    for (const w of [...this.list]) {
      if (!w.pred()) continue;
      this.list.splice(this.list.indexOf(w), 1);
      w.done();
    }
  }
}

/** Resolves waiters when a predicate over the recorded outcomes holds (checked on every outcome, no sleeping). */
export class Publishers {
  readonly outcomes: Outcome[] = [];
  private running = true;
  private readonly workers: Promise<void>[];
  private readonly waiters = new Waiters();

  constructor(
    private readonly services: Services,
    readonly rooms: string[],
    count: number,
    ingest = "publish-ingest",
  ) {
    this.workers = Array.from({ length: count }, (_, w) => this.work(w, ingest));
  }

  private async work(w: number, ingest: string): Promise<void> {
    for (let i = 0; this.running; i++) {
      const room = this.rooms[(w + i) % this.rooms.length] ?? "";
      const data = { w, i };
      let o: Outcome;
      try {
        const svc = this.services.services.get(ingest);
        const res = await publishHttp(this.services, room, { event: "m", data }, {}, svc);
        const body = (await res.json()) as { offset?: number; error?: { code: string } };
        o = {
          room,
          data,
          status: res.status,
          retryAfter: res.headers.get("retry-after"),
          code: body.error?.code,
          offset: body.offset,
          at: Date.now(),
        };
      } catch {
        o = { room, data, status: 0, retryAfter: null, code: undefined, offset: undefined, at: Date.now() };
      }
      this.outcomes.push(o);
      this.waiters.check();
      // A refusal can come at once (no stream leader, ingest down): wait a little rather than spin, far less than
      // the Retry-After a real client honours so that the end of an outage is seen within 50 ms.
      if (o.status !== 201) await new Promise((r) => setTimeout(r, 50));
    }
  }

  acked(): Outcome[] {
    return this.outcomes.filter((o) => o.status === 201);
  }

  failed(): Outcome[] {
    return this.outcomes.filter((o) => o.status !== 201);
  }

  /** Resolves once `pred` holds over the outcomes. */
  until(pred: () => boolean, what: string, timeoutMs = 90_000): Promise<void> {
    return this.waiters.wait(pred, timeoutMs, () => `timed out waiting for ${what} (${this.summary()})`);
  }

  /** `n` more acks from now. */
  moreAcks(n: number, what: string, timeoutMs?: number): Promise<void> {
    const target = this.acked().length + n;
    return this.until(() => this.acked().length >= target, what, timeoutMs);
  }

  /** `n` more failures from now. */
  moreFailures(n: number, what: string, timeoutMs?: number): Promise<void> {
    const target = this.failed().length + n;
    return this.until(() => this.failed().length >= target, what, timeoutMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** The longest time between two consecutive acks answered at or after `from` (ms). */
  longestPause(from: number): number {
    const times = this.acked()
      .map((o) => o.at)
      .filter((t) => t >= from)
      .sort((a, b) => a - b);
    let most = 0;
    for (let k = 1; k < times.length; k++) most = Math.max(most, (times[k] ?? 0) - (times[k - 1] ?? 0));
    return most;
  }

  summary(): string {
    const by = new Map<string, number>();
    for (const o of this.outcomes)
      by.set(
        `${o.status}${o.code === undefined ? "" : " " + o.code}`,
        (by.get(`${o.status}${o.code === undefined ? "" : " " + o.code}`) ?? 0) + 1,
      );
    return [...by].map(([k, v]) => `${k}: ${v}`).join(", ");
  }
}

/** A client subscribed to rooms on one gateway; if the gateway closes its socket it reconnects and resumes. */
export class Subscriber {
  /** Every message push received, across reconnects, in arrival order. */
  readonly messages: Frame[] = [];
  /** Closes of its sockets (code), in order. */
  readonly closes: number[] = [];
  resumes = 0;
  /** Subscribes answered `unavailable` and sent again. */
  retries = 0;
  private sock: TestSocket | undefined;
  private closing = false;
  private readonly waiters = new Waiters();

  private constructor(
    private readonly services: Services,
    readonly gateway: ServiceHandle,
    readonly rooms: string[],
    readonly name: string,
  ) {}

  static async open(services: Services, gateway: ServiceHandle, rooms: string[], name: string): Promise<Subscriber> {
    const s = new Subscriber(services, gateway, rooms, name);
    await s.connect(false);
    return s;
  }

  /** The sockets it has now (for checking that it stayed open). */
  socket(): TestSocket | undefined {
    return this.sock;
  }

  offsets(room: string): number[] {
    return this.messages.filter((f) => f["room"] === room).map((f) => f["offset"] as number);
  }

  private async connect(resume: boolean): Promise<void> {
    const sock = await connectTo(this.services, await signLocal(this.services, { clientId: this.name }), this.gateway);
    this.sock = sock;
    // Message pushes are recorded as they arrive, across sockets (each socket's own list is its own).
    sock.ws.on("message", (data: Buffer) => this.record(JSON.parse(data.toString()) as Frame));
    for (const room of this.rooms) {
      const last = this.offsets(room).at(-1);
      const since = resume && last !== undefined ? { since: { offset: last } } : {};
      let reply = await sock.request("subscribe", { room, ...since }, 15_000);
      // `unavailable` asks the client to retry (docs/PROTOCOL.md), as the client SDK does.
      for (let retry = 0; retry < 20 && (reply["error"] as { code?: string } | undefined)?.code === "unavailable"; retry++) {
        this.retries++;
        await new Promise((r) => setTimeout(r, 250));
        reply = await sock.request("subscribe", { room, ...since }, 15_000);
      }
      if (reply["ok"] !== true) {
        const logged = this.gateway
          .output()
          .split("\n")
          .filter((l) => l.includes('"level":50'))
          .slice(-5)
          .join("\n");
        throw new Error(`${this.name}: subscribe ${room} failed: ${JSON.stringify(reply)}\n${logged}`);
      }
    }
    if (resume) this.resumes++;
    void sock.closed.then(({ code }) => {
      this.closes.push(code);
      if (!this.closing) void this.reconnect();
    });
  }

  private record(f: Frame): void {
    if (f.type === "message") this.messages.push(f);
    this.waiters.check();
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await this.connect(true);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  /** Resolves once it has received `offset` in `room`. */
  waitForOffset(room: string, offset: number, timeoutMs = 60_000): Promise<void> {
    return this.waiters.wait(
      () => this.offsets(room).includes(offset),
      timeoutMs,
      () => `${this.name} on ${this.gateway.port}: no offset ${offset} in ${room}; got ${JSON.stringify(this.offsets(room).slice(-20))}`,
    );
  }

  close(): void {
    this.closing = true;
    this.sock?.close();
  }
}

interface Stored {
  offset: number;
  data: { w: number; i: number };
}

/** History answers that were a 503 `unavailable` and retried (as its Retry-After asks), across the run. */
export const historyRetries: string[] = [];

/** One page; a 503 (history could not read JetStream, e.g. just after a leader change) is retried for up to 30 s. */
async function historyPage(base: string, room: string, query: string, key: string): Promise<Response> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${base}/v1/rooms/${encodeURIComponent(room)}/messages?${query}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    if (res.status !== 503 || Date.now() > deadline) return res;
    historyRetries.push(`${new Date().toISOString()} ${room}: ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every message of `room` that history holds, oldest first (forwards pages). */
export async function readAll(services: Services, room: string, history = "history"): Promise<Stored[]> {
  const base = services.services.get(history)?.url ?? services.url("history");
  const out: Stored[] = [];
  let query = `direction=forwards&limit=100`;
  for (;;) {
    const res = await historyPage(base, room, query, services.devKey);
    if (res.status !== 200)
      throw new Error(
        `history of ${room}: ${res.status} ${await res.text()}\n${services.services.get(history)?.output().slice(-3000) ?? ""}`,
      );
    const page = (await res.json()) as { messages: Stored[]; next: string | null };
    out.push(...page.messages.map((m) => ({ offset: m.offset, data: m.data })));
    if (page.next === null) return out;
    query = `next=${encodeURIComponent(page.next)}&limit=100`;
  }
}

export interface VerifyOptions {
  /** Statuses a publish may be refused with besides 503 (e.g. 0: connection refused while ingest is down). */
  alsoRefusedWith?: number[];
  history?: string;
}

/**
 * The promises, checked after a fault: every refusal is a 503 `unavailable` with Retry-After (or a status listed
 * in `alsoRefusedWith`); every 2xx names an offset that history holds exactly once, with that publish's data; no
 * publish is stored twice; and every subscriber got every stored message of its rooms exactly once, in offset
 * order. Returns the stored count per room.
 */
export async function verify(
  pubs: Publishers,
  subscribers: Subscriber[],
  services: Services,
  o: VerifyOptions = {},
): Promise<Map<string, number>> {
  for (const f of pubs.failed()) {
    if (o.alsoRefusedWith?.includes(f.status) === true) continue;
    expect(f.status, JSON.stringify(f)).toBe(503);
    expect(f.retryAfter, JSON.stringify(f)).toBe("1");
    expect(f.code, JSON.stringify(f)).toBe("unavailable");
  }
  const stored = new Map<string, Stored[]>();
  for (const room of pubs.rooms) stored.set(room, await readAll(services, room, o.history));
  const ackedOffsets = new Set<number>();
  for (const a of pubs.acked()) {
    const offset = a.offset ?? -1;
    expect(ackedOffsets.has(offset), `offset ${offset} acked twice`).toBe(false);
    ackedOffsets.add(offset);
    const held = (stored.get(a.room) ?? []).filter((m) => m.offset === offset);
    expect(held, `acked ${JSON.stringify(a)} is not in history exactly once`).toEqual([{ offset, data: a.data }]);
  }
  const counts = new Map<string, number>();
  for (const [room, msgs] of stored) {
    const offsets = msgs.map((m) => m.offset);
    expect(offsets, `history of ${room} is not in strictly increasing offset order`).toEqual([...new Set(offsets)].sort((a, b) => a - b));
    const publishes = msgs.map((m) => `${m.data.w}.${m.data.i}`);
    expect(new Set(publishes).size, `a publish of ${room} is stored twice`).toBe(publishes.length);
    counts.set(room, msgs.length);
    const last = offsets.at(-1);
    for (const s of subscribers) {
      if (!s.rooms.includes(room)) continue;
      if (last !== undefined) await s.waitForOffset(room, last);
      expect(s.offsets(room), `${s.name} on port ${s.gateway.port}, ${room}`).toEqual(offsets);
    }
  }
  return counts;
}
