/**
 * One room on a client: message and presence handlers, the last offset seen (so a resume asks for exactly what
 * was missed and drops anything already delivered), presence membership, history pages and occupancy.
 */
import { SwitchboardError } from "@switchboard/protocol/errors";
import type {
  MessagePush,
  PresenceMember,
  PresencePush,
  StoredMessage,
  SubscribeResult,
  PublishResult,
  RequestType,
} from "@switchboard/protocol/frames";
import type { RequestFields, ResultOf } from "@switchboard/protocol/requests";
import { callSafely } from "./emitter.js";

export type MessageHandler = (message: MessagePush) => void;
export type PresenceHandler = (event: PresencePush) => void;

export interface Occupancy {
  connections: number;
  subscribers: number;
  presenceMembers: number;
}

export interface HistoryOptions {
  /** 1-100 (gateway default 100). */
  limit?: number;
  /** `backwards` (newest first, default) or `forwards` (oldest first). */
  direction?: "backwards" | "forwards";
}

export interface HistoryPage {
  items: StoredMessage[];
  hasNext: boolean;
  /** The following page, or null at the end. */
  next(): Promise<HistoryPage | null>;
}

export interface RequestOptions {
  /** Re-send after a reconnect when the connection drops before the reply (default true). */
  retry?: boolean;
}

/** What a room needs from its client. */
export interface RoomLink {
  readonly connected: boolean;
  readonly closed: boolean;
  request<K extends RequestType>(type: K, fields: RequestFields<K>, options?: RequestOptions): Promise<ResultOf<K>>;
  reportError(err: unknown): void;
}

const ALL = "*";

interface Waiter {
  resolve: (r: SubscribeResult) => void;
  reject: (e: unknown) => void;
}

export class Room {
  readonly presence: RoomPresence;
  readonly history: { get(options?: HistoryOptions): Promise<HistoryPage> };

  private readonly handlers = new Map<string, Set<MessageHandler>>();
  readonly presenceHandlers = new Set<PresenceHandler>();
  /** Highest offset delivered to the app (or the room's offset when subscribed): the resume point. */
  private lastOffset: number | undefined;
  /** The server-side subscription on the current connection. */
  private current: { presence: boolean; result: SubscribeResult } | undefined;
  private inflight: { presence: boolean; promise: Promise<SubscribeResult> } | undefined;
  private waiters: Waiter[] = [];

  constructor(
    readonly name: string,
    private readonly link: RoomLink,
  ) {
    this.presence = new RoomPresence(this, link);
    this.history = { get: (options = {}) => this.historyPage(options, undefined) };
  }

  /** The offset of the last message handed to a handler (undefined before the first subscribe). */
  get offset(): number | undefined {
    return this.lastOffset;
  }

  /** `subscribe(handler)` for every event, or `subscribe(event, handler)` for one. Resolves once subscribed. */
  subscribe(handler: MessageHandler): Promise<SubscribeResult>;
  subscribe(event: string, handler: MessageHandler): Promise<SubscribeResult>;
  subscribe(a: string | MessageHandler, b?: MessageHandler): Promise<SubscribeResult> {
    const [event, handler] = typeof a === "function" ? [ALL, a] : [a, b];
    if (typeof handler !== "function") return Promise.reject(new SwitchboardError("bad_request", "subscribe needs a handler function"));
    let set = this.handlers.get(event);
    if (set === undefined) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return this.ensureSubscribed();
  }

  /** Removes handlers: all, one handler, one event's, or one event's one handler; unsubscribes when none is left. */
  unsubscribe(a?: string | MessageHandler, b?: MessageHandler): Promise<void> {
    if (a === undefined) this.handlers.clear();
    else if (typeof a === "function") for (const set of this.handlers.values()) set.delete(a);
    else if (b === undefined) this.handlers.delete(a);
    else this.handlers.get(a)?.delete(b);
    for (const [event, set] of [...this.handlers]) if (set.size === 0) this.handlers.delete(event);
    return this.releaseIfUnused();
  }

  /** Publishes through the socket; resolves with {id, offset} once JetStream stored it (sent once even across reconnects). */
  publish(event: string, data: unknown = null): Promise<PublishResult> {
    return this.link.request("publish", { room: this.name, event, data, idempotencyKey: randomKey() });
  }

  occupancy(): Promise<Occupancy> {
    return this.link.request("occupancy", { room: this.name });
  }

  // ---- used by the client and the presence helper ----

  get wanted(): boolean {
    return this.handlers.size > 0 || this.presenceHandlers.size > 0;
  }

  ensureSubscribed(): Promise<SubscribeResult> {
    const needPresence = this.presenceHandlers.size > 0;
    if (this.current !== undefined && (this.current.presence || !needPresence)) return Promise.resolve(this.current.result);
    if (this.inflight !== undefined && (this.inflight.presence || !needPresence)) return this.inflight.promise;
    if (!this.link.connected) return this.waitForResume();
    return this.sendSubscribe();
  }

  async releaseIfUnused(): Promise<void> {
    // Still wanted: keep the subscription (extra presence pushes after a presence unsubscribe are harmless).
    if (this.wanted) return;
    const wasSubscribed = this.current !== undefined || this.inflight !== undefined;
    this.reset();
    if (wasSubscribed && this.link.connected) {
      try {
        await this.link.request("unsubscribe", { room: this.name }, { retry: false });
      } catch (err) {
        if (!(err instanceof SwitchboardError && (err.code === "not_subscribed" || err.code === "unavailable"))) throw err;
      }
    }
  }

  /** A new connection: subscribe again from the last offset so the app sees no gap and no duplicate. */
  resume(): void {
    this.current = undefined;
    this.inflight = undefined;
    if (this.wanted) this.sendSubscribe().catch((err: unknown) => this.link.reportError(err));
  }

  /** The connection dropped: the server-side subscription is gone. */
  dropped(): void {
    this.current = undefined;
    this.inflight = undefined;
  }

  /** The client closed, or the server will not take this room again. */
  fail(err: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** The gateway dropped the subscription (e.g. a refreshed token no longer permits it). */
  unsubscribedByServer(reason: string): void {
    this.handlers.clear();
    this.presenceHandlers.clear();
    this.reset();
    this.fail(new SwitchboardError("unauthorized", `room ${this.name} was unsubscribed by the gateway: ${reason}`));
  }

  deliver(m: MessagePush): void {
    if (this.lastOffset !== undefined && m.offset <= this.lastOffset) return; // already delivered
    if (!this.wanted) return;
    this.lastOffset = m.offset;
    for (const h of [...(this.handlers.get(ALL) ?? []), ...(this.handlers.get(m.event) ?? [])]) callSafely(h, [m]);
  }

  deliverPresence(p: PresencePush): void {
    for (const h of [...this.presenceHandlers]) callSafely(h, [p]);
  }

  // ---- internals ----

  private reset(): void {
    this.current = undefined;
    this.inflight = undefined;
    this.lastOffset = undefined;
  }

  private waitForResume(): Promise<SubscribeResult> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private sendSubscribe(): Promise<SubscribeResult> {
    const presence = this.presenceHandlers.size > 0;
    const fields: RequestFields<"subscribe"> = { room: this.name };
    if (presence) fields.presence = true;
    if (this.lastOffset !== undefined) fields.since = { offset: this.lastOffset };
    const promise = this.link.request("subscribe", fields, { retry: false }).then(
      (result) => {
        if (this.inflight?.promise !== promise) return result; // superseded by a later subscribe
        this.inflight = undefined;
        this.current = { presence, result };
        // Everything up to the room's offset was either delivered before this reply or predates the subscription.
        this.lastOffset = Math.max(this.lastOffset ?? 0, result.offset);
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.resolve(result);
        return result;
      },
      (err: unknown) => {
        if (this.inflight?.promise === promise) this.inflight = undefined;
        // Connection lost mid-request: the next connection resumes this room; wait for that.
        if (err instanceof SwitchboardError && err.code === "unavailable" && !this.link.closed && this.wanted) return this.waitForResume();
        this.handlers.clear();
        this.presenceHandlers.clear();
        this.reset();
        this.fail(err);
        throw err;
      },
    );
    this.inflight = { presence, promise };
    return promise;
  }

  private async historyPage(options: HistoryOptions, after: { before?: number; after?: number } | undefined): Promise<HistoryPage> {
    const direction = options.direction ?? "backwards";
    const fields: RequestFields<"history"> = { room: this.name, direction, ...after };
    if (options.limit !== undefined) fields.limit = options.limit;
    const res = await this.link.request("history", fields);
    const items = res.messages;
    const last = items[items.length - 1];
    const hasNext = res.next !== null && last !== undefined;
    return {
      items,
      hasNext,
      next: async () => {
        if (!hasNext) return null;
        return this.historyPage(options, direction === "forwards" ? { after: last.offset } : { before: last.offset });
      },
    };
  }
}

export class RoomPresence {
  /** The data this client joined with, re-sent after a reconnect. */
  private joined: { data: unknown; confirmed: boolean } | undefined;

  constructor(
    private readonly room: Room,
    private readonly link: RoomLink,
  ) {}

  async join(data: unknown = null): Promise<void> {
    this.joined = { data, confirmed: false };
    await this.link.request("presence.join", { room: this.room.name, data });
    // leave() may have run while the join was in flight (TypeScript keeps the narrowing from before the await).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.joined !== undefined) this.joined.confirmed = true;
  }

  async update(data: unknown): Promise<void> {
    if (this.joined !== undefined) this.joined.data = data;
    await this.link.request("presence.update", { room: this.room.name, data });
  }

  async leave(): Promise<void> {
    this.joined = undefined;
    await this.link.request("presence.leave", { room: this.room.name });
  }

  async get(): Promise<PresenceMember[]> {
    return (await this.link.request("presence.get", { room: this.room.name })).members;
  }

  /** Presence pushes (join, update, leave) for this room; subscribes the room with presence. */
  subscribe(handler: PresenceHandler): Promise<SubscribeResult> {
    this.room.presenceHandlers.add(handler);
    return this.room.ensureSubscribed();
  }

  unsubscribe(handler?: PresenceHandler): Promise<void> {
    if (handler === undefined) this.room.presenceHandlers.clear();
    else this.room.presenceHandlers.delete(handler);
    return this.room.releaseIfUnused();
  }

  /** After a reconnect: join again with the last data when the earlier join had been confirmed. */
  rejoin(): void {
    if (this.joined?.confirmed !== true) return;
    this.link
      .request("presence.join", { room: this.room.name, data: this.joined.data }, { retry: false })
      .catch((err: unknown) => this.link.reportError(err));
  }
}

function randomKey(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
