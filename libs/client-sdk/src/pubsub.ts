/**
 * Livestorm-style pub/sub scopes (docs/HTTP-API.md): a client in session S of event E listens on rooms `org`, `event:E`
 * and `session:S`, so a publish to the organization, the event or the session reaches it.
 */
import type { MessagePush } from "@switchboard/protocol/frames";
import type { Room } from "./room.js";

export interface PubSubScope {
  eventId?: string;
  sessionId?: string;
}

export type PubSubCallback = (data: unknown, message: MessagePush) => void;

export interface RoomSource {
  room(name: string): Room;
}

export class PubSub {
  readonly rooms: Room[];
  private readonly subs: Array<{ eventName: string; cb: PubSubCallback; handler: (m: MessagePush) => void }> = [];

  constructor(client: RoomSource, scope: PubSubScope) {
    const names = ["org"];
    if (scope.eventId !== undefined) names.push(`event:${scope.eventId}`);
    if (scope.sessionId !== undefined) names.push(`session:${scope.sessionId}`);
    this.rooms = names.map((n) => client.room(n));
  }

  /** Calls `cb(data, message)` for every `eventName` published to any of the scope's rooms. */
  async subscribe(eventName: string, cb: PubSubCallback): Promise<void> {
    const handler = (m: MessagePush) => cb(m.data, m);
    this.subs.push({ eventName, cb, handler });
    await Promise.all(this.rooms.map((r) => r.subscribe(eventName, handler)));
  }

  /** Removes one callback, every callback of an event, or everything. */
  async unsubscribe(eventName?: string, cb?: PubSubCallback): Promise<void> {
    const gone = this.subs.filter((s) => (eventName === undefined || s.eventName === eventName) && (cb === undefined || s.cb === cb));
    for (const s of gone) this.subs.splice(this.subs.indexOf(s), 1);
    await Promise.all(this.rooms.flatMap((r) => gone.map((s) => r.unsubscribe(s.eventName, s.handler))));
  }
}
