/**
 * Clients muted in a room (moderate.mute by clientId). The moderator's gateway stores the mute in the moderation
 * bucket before it tells the other gateways, so a gateway started later, or restarted, still refuses that client's
 * publishes; every gateway keeps the set in memory from a KV watch, so the publish check costs no I/O.
 * Mutes by connectionId live on the connection itself (a connection exists on one gateway only).
 */
import { KvKeys, followBucket, type KV, type Logger } from "@switchboard/core";

export class MuteRegistry {
  private readonly muted = new Set<string>();

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Loads current mutes, then follows changes until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await followBucket(this.kv, signal, this.log, "mute", (e) => {
      if (e.operation === "PUT") this.muted.add(e.key);
      else this.muted.delete(e.key);
    });
    for await (const k of await this.kv.keys()) this.muted.add(k);
  }

  has(app: string, room: string, clientId: string): boolean {
    return this.muted.size > 0 && this.muted.has(KvKeys.mute(app, room, clientId));
  }

  /** Applies a mute or unmute here at once (from a control command), ahead of the KV watch. */
  apply(app: string, room: string, clientId: string, muted: boolean): void {
    const key = KvKeys.mute(app, room, clientId);
    if (muted) this.muted.add(key);
    else this.muted.delete(key);
  }

  /** Stores a mute or unmute so that every gateway, including later ones, honours it. */
  async persist(app: string, room: string, clientId: string, muted: boolean): Promise<void> {
    const key = KvKeys.mute(app, room, clientId);
    if (muted) await this.kv.put(key, JSON.stringify({ mutedAt: Date.now() }));
    else await this.kv.delete(key);
    this.apply(app, room, clientId, muted);
  }
}
