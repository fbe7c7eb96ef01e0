/**
 * Presence (docs/PROTOCOL.md) across gateways. A member is a PresenceRecord in the presence bucket under
 * KvKeys.presence(app, room, connectionId); the gateway holding the socket re-puts it well before the bucket TTL
 * (PRESENCE_TTL_MS), so the members of a gateway that dies expire on their own. Every change is published on
 * Subjects.presence(app, room); a gateway subscribes that subject while one of its sockets watches the room's presence
 * and turns each change into one push frame published to the room's presence topic (serialized once per room).
 *
 * Members that vanish without a `leave` (their gateway died) are noticed by a periodic scan of the bucket for rooms
 * watched here that have members on other gateways; each watcher then gets a `leave` push.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { PRESENCE_DATA_MAX, SwitchboardError, type PresenceMember } from "@switchboard/protocol";
import { KvKeys, PRESENCE_TTL_MS, Subjects, readPresence, type KV, type Logger, type PresenceRecord } from "@switchboard/core";
import type { PresenceAction } from "./adapters/adapter.js";
import { topicAll } from "./topics.js";

/** Re-put interval: three chances per TTL. */
export const PRESENCE_HEARTBEAT_MS = Math.floor(PRESENCE_TTL_MS / 3);
/** How often rooms watched here are checked for members whose gateway stopped re-putting them. */
export const PRESENCE_SWEEP_MS = 2_500;

export interface PresenceDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  log: Logger;
  /** Pushes a change to this gateway's sockets watching the room (encoded once per room; `memberJson` is JSON). */
  push(app: string, room: string, roomJson: string, action: PresenceAction, memberJson: string): void;
}

interface Known {
  member: PresenceMember;
  /** Local clock when this gateway last heard of the member (0 when it came from a scan). */
  seenAt: number;
}

interface Watch {
  app: string;
  room: string;
  roomJson: string;
  refs: number;
  sub: Subscription;
  known: Map<string, Known>;
}

/** The JSON of presence data, refused past PRESENCE_DATA_MAX characters. */
export function presenceData(data: unknown): unknown {
  if (data === undefined) return null;
  const json = JSON.stringify(data);
  if (json.length > PRESENCE_DATA_MAX)
    throw new SwitchboardError("too_large", `presence data is over ${PRESENCE_DATA_MAX} characters as JSON; send less`);
  return data;
}

export class PresenceHub {
  /** Members whose socket is on this gateway, by topicAll(app, room) then connectionId. */
  private readonly local = new Map<string, Map<string, PresenceRecord & { app: string; room: string }>>();
  private readonly watched = new Map<string, Watch>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly sweep: ReturnType<typeof setInterval>;
  private sweeping = false;

  constructor(private readonly deps: PresenceDeps) {
    this.heartbeat = setInterval(() => this.reput(), PRESENCE_HEARTBEAT_MS);
    this.sweep = setInterval(() => void this.sweepGhosts(), PRESENCE_SWEEP_MS);
  }

  /** Local presence members of a room (for occupancy). */
  localMembers(app: string, room: string): ReadonlyMap<string, PresenceRecord> | undefined {
    return this.local.get(topicAll(app, room));
  }

  /** Joins or updates; returns the action published. */
  async enter(app: string, room: string, rec: PresenceRecord, action: "join" | "update"): Promise<void> {
    const key = topicAll(app, room);
    let m = this.local.get(key);
    if (m === undefined) this.local.set(key, (m = new Map<string, PresenceRecord & { app: string; room: string }>()));
    m.set(rec.connectionId, { ...rec, app, room });
    try {
      await this.deps.kv.put(KvKeys.presence(app, room, rec.connectionId), JSON.stringify(rec));
    } catch (err) {
      throw new SwitchboardError("unavailable", "presence could not be stored; retry", { cause: err });
    }
    this.announce(app, room, action, rec);
  }

  async leave(app: string, room: string, connectionId: string): Promise<void> {
    const key = topicAll(app, room);
    const m = this.local.get(key);
    const rec = m?.get(connectionId);
    if (m === undefined || rec === undefined) return;
    m.delete(connectionId);
    if (m.size === 0) this.local.delete(key);
    this.announce(app, room, "leave", { clientId: rec.clientId, connectionId, data: rec.data, joinedAt: rec.joinedAt });
    try {
      await this.deps.kv.delete(KvKeys.presence(app, room, connectionId));
    } catch (err) {
      // The record expires with the bucket TTL anyway.
      this.deps.log.warn({ err: (err as Error).message }, "presence delete failed; the record will expire");
    }
  }

  private announce(app: string, room: string, action: PresenceAction, member: PresenceMember): void {
    const { clientId, connectionId, data, joinedAt } = member;
    this.deps.nc.publish(Subjects.presence(app, room), JSON.stringify({ action, member: { clientId, connectionId, data, joinedAt } }));
  }

  /** Every member of a room on every gateway, from the bucket. */
  members(app: string, room: string): Promise<PresenceMember[]> {
    return readPresence(this.deps.js, this.deps.jsm, app, room, this.deps.log);
  }

  /** Starts (or references) the presence pushes of a room on this gateway. */
  watch(app: string, room: string): void {
    const key = topicAll(app, room);
    const w = this.watched.get(key);
    if (w !== undefined) {
      w.refs++;
      return;
    }
    const watch: Watch = {
      app,
      room,
      roomJson: JSON.stringify(room),
      refs: 1,
      known: new Map(),
      sub: this.deps.nc.subscribe(Subjects.presence(app, room), {
        callback: (err, msg) => {
          if (err === null) this.onChange(watch, msg.string());
        },
      }),
    };
    this.watched.set(key, watch);
    // Seed the members already there, so that a later ghost among them is noticed too.
    void this.members(app, room).then(
      (ms) => {
        for (const m of ms) if (!watch.known.has(m.connectionId)) watch.known.set(m.connectionId, { member: m, seenAt: 0 });
      },
      (err: unknown) => this.deps.log.warn({ err: (err as Error).message }, "presence seed scan failed"),
    );
  }

  unwatch(app: string, room: string): void {
    const key = topicAll(app, room);
    const w = this.watched.get(key);
    if (w === undefined) return;
    if (--w.refs > 0) return;
    w.sub.unsubscribe();
    this.watched.delete(key);
  }

  private onChange(w: Watch, text: string): void {
    let ev: { action: PresenceAction; member: PresenceMember };
    try {
      ev = JSON.parse(text) as typeof ev;
    } catch {
      return;
    }
    if (ev.action === "leave") w.known.delete(ev.member.connectionId);
    else w.known.set(ev.member.connectionId, { member: ev.member, seenAt: Date.now() });
    this.push(w, ev.action, JSON.stringify(ev.member));
  }

  private push(w: Watch, action: PresenceAction, memberJson: string): void {
    this.deps.push(w.app, w.room, w.roomJson, action, memberJson);
  }

  private reput(): void {
    for (const m of this.local.values())
      for (const r of m.values()) {
        const rec: PresenceRecord = { clientId: r.clientId, connectionId: r.connectionId, data: r.data, joinedAt: r.joinedAt };
        this.deps.kv.put(KvKeys.presence(r.app, r.room, r.connectionId), JSON.stringify(rec)).catch((err: unknown) => {
          this.deps.log.warn({ err: (err as Error).message }, "presence heartbeat failed");
        });
      }
  }

  /** Pushes `leave` for members on other gateways that are no longer in the bucket. */
  private async sweepGhosts(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const w of [...this.watched.values()]) {
        const mine = this.local.get(topicAll(w.app, w.room));
        let remote = false;
        for (const id of w.known.keys()) if (mine?.has(id) !== true) remote = true;
        if (!remote) continue;
        const started = Date.now();
        const alive = new Set((await this.members(w.app, w.room)).map((m) => m.connectionId));
        for (const [id, k] of [...w.known]) {
          if (alive.has(id) || k.seenAt >= started || mine?.has(id) === true) continue;
          w.known.delete(id);
          this.push(w, "leave", JSON.stringify(k.member));
        }
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "presence sweep failed");
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.sweep);
    for (const w of this.watched.values()) w.sub.unsubscribe();
    this.watched.clear();
  }
}
