/**
 * Interest-based room subscriptions (DESIGN §1): a room's live subject is subscribed while at least one local
 * socket wants it. Each live message is turned into its push frame once and published to the room's uWS topics
 * (one for every-event subscribers, one per filtered event), so fan-out serializes once per room, not per socket.
 *
 * Ordering and gaps: the republished message carries `Nats-Sequence` (its offset) and `Nats-Last-Sequence` (the
 * room's previous offset). A mismatch with the last offset seen means a message was missed (core NATS is at most
 * once); the room then holds new messages, fetches the missing ones from history, and delivers all in order.
 * A short ring of recent frames lets a subscribe that first replays history switch to live with no gap.
 */
import type { NatsConnection, Subscription, Msg } from "@nats-io/transport-node";
import { Subjects, bodyEvent, encodeBody, messagePushFrame, type Logger } from "@switchboard/core";
import type { StoredMessage } from "@switchboard/protocol";

export const RING_SIZE = 2048;

export interface LiveEntry {
  offset: number;
  prev: number;
  event: string;
  frame: string;
}

export interface RoomDeps {
  nc: NatsConnection;
  log: Logger;
  /** Publishes a frame to a uWS topic; returns nothing (uWS handles per-socket backpressure). */
  publish(topic: string, frame: string): void;
  /** Messages of a room with offsets in (after, upTo], oldest first (from the history service). */
  fetchRange(app: string, room: string, after: number, upTo: number): Promise<StoredMessage[]>;
  onDelivered(count: number, timestampMs: number | undefined): void;
  onGap(): void;
}

export function topicAll(app: string, room: string): string {
  return `${app}\u0001${room}`;
}

export function topicEvent(app: string, room: string, event: string): string {
  return `${app}\u0001${room}\u0001${event}`;
}

/** Presence pushes of a room (sockets that subscribed with presence:true). */
export function topicPresence(app: string, room: string): string {
  return `${app}\u0001${room}\u0002p`;
}

/** Room-wide pushes (message.deleted) for sockets that filter events and so are not on the room's topic. */
export function topicMeta(app: string, room: string): string {
  return `${app}\u0001${room}\u0002m`;
}

export class Room {
  refs = 0;
  /** Sockets whose subscribe completed (occupancy); `refs` also counts subscribes in flight. */
  subscribers = 0;
  /** Offset of the newest message delivered to topics (0 until the first one). */
  lastOffset = 0;
  readonly ring = new LiveRing(RING_SIZE);
  readonly roomJson: string;
  readonly topic: string;
  /** Event names that some socket filters on (refcounted), so only those event topics are published. */
  readonly filteredEvents = new Map<string, number>();
  private sub: Subscription | undefined;
  private healing = false;
  private healDone: Promise<void> = Promise.resolve();
  private held: LiveEntry[] = [];
  readonly ready: Promise<void>;

  constructor(
    readonly app: string,
    readonly name: string,
    private readonly deps: RoomDeps,
  ) {
    this.roomJson = JSON.stringify(name);
    this.topic = topicAll(app, name);
    this.sub = deps.nc.subscribe(Subjects.live(app, name), { callback: (err, msg) => this.onMsg(err, msg) });
    this.ready = deps.nc.flush();
  }

  private onMsg(err: Error | null, msg: Msg): void {
    if (err !== null) {
      this.deps.log.warn({ err: err.message, room: this.name }, "live subscription error");
      return;
    }
    const h = msg.headers;
    const offset = Number(h?.get("Nats-Sequence"));
    const prev = Number(h?.get("Nats-Last-Sequence") || 0);
    if (!Number.isSafeInteger(offset) || offset <= 0) return;
    const body = msg.string();
    const entry: LiveEntry = { offset, prev, event: bodyEvent(body), frame: messagePushFrame(this.roomJson, offset, body) };
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
    this.deps.publish(this.topic, e.frame);
    if (this.filteredEvents.has(e.event)) this.deps.publish(topicEvent(this.app, this.name, e.event), e.frame);
    this.deps.onDelivered(1, timestampMs);
  }

  /** Resolves once no gap heal is in progress (a heal delivers everything it held before it ends). */
  async settled(): Promise<void> {
    while (this.healing) await this.healDone;
  }

  /** Fetches the messages missed between lastOffset and `upTo`, delivers them, then the held ones. Never rejects. */
  private async heal(upTo: number): Promise<void> {
    this.healing = true;
    this.deps.onGap();
    try {
      const missing = await this.deps.fetchRange(this.app, this.name, this.lastOffset, upTo);
      for (const m of missing) this.deliver(liveEntryFromStored(this.roomJson, m));
    } catch (err) {
      this.deps.log.error({ err, room: this.name }, "could not heal a live gap from history; delivering what arrived");
    } finally {
      const held = this.held;
      this.held = [];
      this.healing = false;
      for (const e of held) this.deliver(e);
    }
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

/** The newest live entries of a room, oldest first, in a fixed circular buffer (no shifting per message). */
export class LiveRing {
  private readonly items: Array<LiveEntry | undefined>;
  private start = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.items = new Array<LiveEntry | undefined>(capacity);
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
      const e = this.items[(this.start + i) % this.capacity]!;
      if (e.offset > after) out.push(e);
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

export function liveEntryFromStored(roomJson: string, m: StoredMessage): LiveEntry {
  const body = encodeBody({
    event: m.event,
    dataJson: JSON.stringify(m.data ?? null),
    timestamp: m.timestamp,
    ...(m.clientId !== undefined ? { clientId: m.clientId } : {}),
    ...(m.attributes !== undefined ? { attributes: m.attributes } : {}),
    ...(m.connectionData !== undefined ? { connectionData: m.connectionData } : {}),
  });
  return { offset: m.offset, prev: 0, event: m.event, frame: messagePushFrame(roomJson, m.offset, body) };
}

/** All rooms with a live subscription on this gateway, keyed by topic. */
export class RoomHub {
  private readonly rooms = new Map<string, Room>();

  constructor(private readonly deps: RoomDeps) {}

  get size(): number {
    return this.rooms.size;
  }

  get(app: string, room: string): Room | undefined {
    return this.rooms.get(topicAll(app, room));
  }

  /** Takes a reference on the room, subscribing its live subject if it is new. */
  acquire(app: string, room: string): Room {
    const key = topicAll(app, room);
    let r = this.rooms.get(key);
    if (r === undefined) {
      r = new Room(app, room, this.deps);
      this.rooms.set(key, r);
    }
    r.refs++;
    return r;
  }

  release(r: Room): void {
    r.refs--;
    if (r.refs <= 0) {
      r.close();
      this.rooms.delete(r.topic);
    }
  }

  all(): IterableIterator<Room> {
    return this.rooms.values();
  }
}
