/**
 * One room's live stream on this gateway (the hub, hub.ts, holds the rooms): its live subject is subscribed while
 * at least one local socket wants it, and each live message is handed once, in order, to the `deliver` sink, which
 * encodes it once per room and publishes it to the room's uWS topics (layer.ts), so fan-out serializes once per
 * room, not per socket. A room knows nothing of frames: it keeps the stored body (libs/core envelope.ts).
 *
 * Ordering and gaps: the republished message carries `Nats-Sequence` (its offset) and `Nats-Last-Sequence` (the
 * room's previous offset). A mismatch with the last offset seen means a message was missed (core NATS is at most
 * once); the room then holds new messages, fetches the missing ones from history, and delivers all in order.
 * A short ring of recent messages lets a subscribe that first replays history switch to live with no gap.
 *
 * After a NATS reconnect (docs/OPERATIONS.md, "NATS reconnects") a room cannot wait for its next message to see what it
 * missed: `catchUp` reads everything stored after the last offset delivered at once, holding live messages meanwhile.
 */
import type { NatsConnection, Subscription, Msg } from "@nats-io/transport-node";
import { Subjects, bodyEvent, encodeBody, tracingOn, type Logger } from "@switchboard/core";
import { traceFanout } from "./tracing.js";
import type { StoredMessage } from "@switchboard/protocol";
import { topicAll } from "./topics.js";

export const RING_SIZE = 2048;

export interface LiveEntry {
  offset: number;
  /** The room's previous offset (Nats-Last-Sequence); 0 when read back from history. */
  prev: number;
  event: string;
  /** The stored body (envelope.ts encodeBody). */
  body: string;
}

export interface RoomDeps {
  nc: NatsConnection;
  log: Logger;
  /** Takes each message of a room once, in offset order (the hot path: once per room message). */
  deliver(room: Room, entry: LiveEntry): void;
  /** Messages of a room with offsets in (after, upTo], oldest first (from the history service). */
  fetchRange(app: string, room: string, after: number, upTo: number): Promise<StoredMessage[]>;
  /** Every stored message of a room with an offset above `after`, oldest first (from the history service). */
  fetchAfter(app: string, room: string, after: number): Promise<StoredMessage[]>;
  onDelivered(count: number, timestampMs: number | undefined): void;
  onGap(): void;
}

export class Room {
  refs = 0;
  /** Sockets whose subscribe completed (occupancy); `refs` also counts subscribes in flight. */
  subscribers = 0;
  /** Offset of the newest message delivered to topics (0 until the first one). */
  lastOffset = 0;
  readonly ring = new LiveRing(RING_SIZE);
  /** The room name as JSON, for encoders. */
  readonly roomJson: string;
  /** The room's key in the hub, topicAll(app, name); it doubles as the native every-event topic. */
  readonly key: string;
  /** Event names that some socket filters on (refcounted), so only those event topics are published. */
  readonly filteredEvents = new Map<string, number>();
  private sub: Subscription | undefined;
  private healing = false;
  private healDone: Promise<void> = Promise.resolve();
  private held: LiveEntry[] = [];
  readonly ready: Promise<void>;
  private endLookup: Promise<number> | undefined;

  constructor(
    readonly app: string,
    readonly name: string,
    private readonly deps: RoomDeps,
  ) {
    this.roomJson = JSON.stringify(name);
    this.key = topicAll(app, name);
    this.sub = deps.nc.subscribe(Subjects.live(app, name), { callback: (err, msg) => this.onMsg(err, msg) });
    this.ready = flushSoon(deps.nc);
  }

  /**
   * Where a subscribe without a resume point starts: the newest offset this room delivered when it has one (its live
   * subscription was up before, so anything stored later still reaches the new socket through the topic), else the
   * stream's answer from `lookup`, one lookup shared by the subscribes that ask at once. With many subscribers per
   * room only the first costs a JetStream request.
   */
  endOffset(lookup: () => Promise<number>): Promise<number> {
    if (this.lastOffset > 0) return Promise.resolve(this.lastOffset);
    this.endLookup ??= lookup().finally(() => {
      this.endLookup = undefined;
    });
    return this.endLookup;
  }

  private onMsg(err: Error | null, msg: Msg): void {
    if (tracingOn()) traceFanout(this, msg, () => this.receive(err, msg));
    else this.receive(err, msg);
  }

  private receive(err: Error | null, msg: Msg): void {
    if (err !== null) {
      this.deps.log.warn({ err: err.message, room: this.name }, "live subscription error");
      return;
    }
    let offset = 0;
    let prev = 0;
    // One pass over the headers: MsgHdrs.get builds and filters a list of every key per call (twice a message here).
    const h = msg.headers;
    if (h !== undefined)
      for (const [k, v] of h) {
        if (k === "Nats-Sequence") offset = Number(v[0]);
        else if (k === "Nats-Last-Sequence") prev = Number(v[0] || 0);
      }
    if (!Number.isSafeInteger(offset) || offset <= 0) return;
    const body = msg.string();
    const entry: LiveEntry = { offset, prev, event: bodyEvent(body), body };
    if (this.healing) {
      this.held.push(entry);
      return;
    }
    if (this.lastOffset !== 0 && prev > this.lastOffset) {
      this.held.push(entry);
      this.healDone = this.heal(prev);
      return;
    }
    this.deliver(entry, timestampOf(body));
  }

  private deliver(e: LiveEntry, timestampMs?: number): void {
    if (e.offset <= this.lastOffset) return; // already delivered (duplicate after a heal)
    this.lastOffset = e.offset;
    this.ring.push(e);
    this.deps.deliver(this, e);
    this.deps.onDelivered(1, timestampMs);
  }

  /** Resolves once no gap heal is in progress (a heal delivers everything it held before it ends). */
  async settled(): Promise<void> {
    while (this.healing) await this.healDone;
  }

  /** Fetches the messages missed between lastOffset and `upTo`, delivers them, then the held ones. Never rejects. */
  private async heal(upTo: number): Promise<void> {
    this.deps.onGap();
    await this.fill(() => this.deps.fetchRange(this.app, this.name, this.lastOffset, upTo), "could not heal a live gap from history");
  }

  /**
   * Delivers every message stored after the last one delivered (those republished while NATS was disconnected never
   * arrive), then what arrived live meanwhile; resolves with how many it read back. A room that has delivered nothing
   * and has no socket yet has nothing to catch up (a subscribe in flight reads its own start). Never rejects.
   */
  async catchUp(): Promise<number> {
    while (this.healing) await this.healDone;
    if (this.sub === undefined || this.lastOffset === 0) return 0;
    const run = this.fill(() => this.deps.fetchAfter(this.app, this.name, this.lastOffset), "could not catch up from history");
    this.healDone = run.then(() => undefined);
    return run;
  }

  /**
   * The first socket handed over to a room that has delivered nothing yet starts at `offset` (what its replay or its
   * start covered): the room's gap detection and catch-up count from there.
   */
  startAt(offset: number): void {
    if (this.lastOffset === 0) this.lastOffset = offset;
  }

  /** Holds live messages, delivers what `fetch` reads, then the held ones; resolves with the count read. */
  private async fill(fetch: () => Promise<StoredMessage[]>, failure: string): Promise<number> {
    this.healing = true;
    let read = 0;
    try {
      const missing = await fetch();
      read = missing.length;
      for (const m of missing) this.deliver(liveEntryFromStored(m));
    } catch (err) {
      this.deps.log.error({ err, room: this.name }, `${failure}; delivering what arrived`);
    } finally {
      const held = this.held;
      this.held = [];
      this.healing = false;
      for (const e of held) this.deliver(e);
    }
    return read;
  }

  /** Entries with offset > `after`, oldest first (a copy). */
  since(after: number): LiveEntry[] {
    return this.ring.since(after);
  }

  /** Drops a deleted message from the ring so that a later switch to live does not send it again. */
  forget(offset: number): void {
    this.ring.forget(offset);
  }

  addFilter(event: string): void {
    this.filteredEvents.set(event, (this.filteredEvents.get(event) ?? 0) + 1);
  }

  removeFilter(event: string): void {
    const n = (this.filteredEvents.get(event) ?? 1) - 1;
    if (n <= 0) this.filteredEvents.delete(event);
    else this.filteredEvents.set(event, n);
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}

/**
 * One flush (PING/PONG) for every room subscribed in the same event-loop turn, sent after all of their SUBs: a room
 * is ready once nats-server has its subscription, and ten thousand new rooms do not need ten thousand PINGs.
 */
const flushes = new WeakMap<NatsConnection, Promise<void>>();

function flushSoon(nc: NatsConnection): Promise<void> {
  let p = flushes.get(nc);
  if (p === undefined) {
    p = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      // Rooms made from now on are behind this PING: they get the next flush.
      flushes.delete(nc);
      return nc.flush();
    });
    flushes.set(nc, p);
  }
  return p;
}

/** The newest live entries of a room, oldest first, in a fixed circular buffer (no shifting per message). */
export class LiveRing {
  private readonly items: Array<LiveEntry | undefined>;
  private start = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    // Grows as entries come (until full, `start` is 0 and entries sit at 0..count-1): a quiet room does not hold a
    // 2048-slot array (16 KB), which was most of what a room cost the gateway.
    this.items = [];
  }

  get length(): number {
    return this.count;
  }

  push(e: LiveEntry): void {
    if (this.count < this.capacity) {
      this.items[(this.start + this.count) % this.capacity] = e;
      this.count++;
    } else {
      this.items[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Entries with offset > `after`, oldest first. */
  since(after: number): LiveEntry[] {
    const out: LiveEntry[] = [];
    for (let i = 0; i < this.count; i++) {
      const e = this.items[(this.start + i) % this.capacity];
      if (e !== undefined && e.offset > after) out.push(e);
    }
    return out;
  }

  /** Removes the entry with this offset (moderation deletes are rare: a rebuild is fine). */
  forget(offset: number): void {
    const kept = this.since(0).filter((e) => e.offset !== offset);
    if (kept.length === this.count) return;
    this.items.fill(undefined);
    this.start = 0;
    this.count = 0;
    for (const e of kept) this.push(e);
  }
}

function timestampOf(body: string): number | undefined {
  const i = body.lastIndexOf('"timestamp":');
  if (i < 0) return undefined;
  const n = parseInt(body.slice(i + 12, i + 30), 10);
  return Number.isFinite(n) ? n : undefined;
}

/** A message read back from history as a live entry (its body re-encoded as ingest stores it). */
export function liveEntryFromStored(m: StoredMessage): LiveEntry {
  const body = encodeBody({
    event: m.event,
    dataJson: JSON.stringify(m.data ?? null),
    timestamp: m.timestamp,
    ...(m.clientId !== undefined ? { clientId: m.clientId } : {}),
    ...(m.attributes !== undefined ? { attributes: m.attributes } : {}),
    ...(m.connectionData !== undefined ? { connectionData: m.connectionData } : {}),
  });
  return { offset: m.offset, prev: 0, event: m.event, body };
}
