/**
 * What IVS chat sockets (adapters/ivs.ts) are sent besides their own replies: every room message, encoded once per
 * room as an IVS frame on the room's IVS topic (only while this gateway has IVS sockets in the room), and the
 * `aws:DELETE_MESSAGE` / `aws:DISCONNECT_USER` events of moderation from any surface (docs/VENDORS.md).
 *
 * A push caused by a socket's own request carries its RequestId, and the client drops a second frame with an Id it
 * has seen, so the requester must get the RequestId copy and no other. Its SEND_MESSAGE is awaited here by the
 * stored body (registered before the publish, so a delivery that beats the acknowledgement still matches); the
 * room's frame then goes to every other socket through the requester's own `publish` (uWS leaves the publisher out)
 * and the requester gets the copy with its RequestId, in the same order. Moderation commands name their origin.
 */
import { randomUUID } from "node:crypto";
import type { ControlCommand, ControlOrigin } from "@switchboard/core";
import { IVS_DELETE_EVENT, IVS_DISCONNECT_EVENT, ivsEventFrame, ivsMessageFrame } from "../adapters/ivs.js";
import type { Conn } from "../connection.js";
import type { LiveEntry, Room } from "../rooms.js";
import { topicAll, topicIvs } from "../topics.js";

/** The socket operations the IVS fan-out needs (the gateway's Sockets, layer.ts). */
export interface IvsSockets {
  publish(topic: string, frame: string): void;
  /** Sockets subscribed to a uWS topic on this gateway. */
  subscribers(topic: string): number;
  send(conn: Conn, frame: string): void;
  byId(id: string): Conn | undefined;
}

/** How long an acknowledged SEND_MESSAGE waits for its delivery before it is forgotten. */
const SETTLED_TTL_MS = 30_000;

export class IvsFanout {
  /** SEND_MESSAGEs waiting for their delivery here, by room key + stored body. */
  private readonly pending = new Map<string, { conn: Conn; requestId: string }>();

  constructor(private readonly sockets: IvsSockets) {}

  /** Registers a SEND_MESSAGE before its publish; returns the key to `settle` or `forget` it with. */
  expect(roomKey: string, body: string, conn: Conn, requestId: string): string {
    const key = roomKey + body;
    this.pending.set(key, { conn, requestId });
    return key;
  }

  /** The publish failed: no delivery will come. */
  forget(key: string): void {
    this.pending.delete(key);
  }

  /** The publish was stored: the delivery normally came or comes at once; the entry is dropped later anyway. */
  settle(key: string): void {
    if (this.pending.has(key)) setTimeout(() => this.pending.delete(key), SETTLED_TTL_MS).unref();
  }

  /** A room message, once per room (layer.ts deliver). */
  deliver(room: Room, e: LiveEntry): void {
    const topic = topicIvs(room.key);
    const mine = this.pending.size === 0 ? undefined : this.pending.get(room.key + e.body);
    if (mine !== undefined) this.pending.delete(room.key + e.body);
    if (this.sockets.subscribers(topic) === 0) return;
    const frame = ivsMessageFrame(e.offset, e.body);
    if (mine === undefined || mine.conn.closed) {
      this.sockets.publish(topic, frame);
      return;
    }
    mine.conn.socket.publish(topic, frame);
    this.sockets.send(mine.conn, ivsMessageFrame(e.offset, e.body, mine.requestId));
  }

  /** A message was deleted (any surface): `aws:DELETE_MESSAGE` to the room's IVS sockets. */
  deleted(app: string, cmd: Extract<ControlCommand, { op: "delete" }>): void {
    const attributes: Record<string, string> = { MessageID: cmd.messageId };
    if (cmd.reason !== undefined) attributes["Reason"] = cmd.reason;
    this.notify(topicIvs(topicAll(app, cmd.room)), cmd.eventId ?? randomUUID(), IVS_DELETE_EVENT, attributes, cmd.origin);
  }

  /**
   * A disconnect (any surface) about to close `targets` here: `aws:DISCONNECT_USER` to the room's IVS sockets when
   * a user of a room is disconnected, and to each IVS target that would not get it that way, before it closes.
   */
  disconnecting(app: string, cmd: Extract<ControlCommand, { op: "disconnect" }>, targets: readonly Conn[]): void {
    const id = cmd.eventId ?? randomUUID();
    const attrs = (userId: string): Record<string, string> =>
      cmd.reason === undefined ? { UserId: userId } : { UserId: userId, Reason: cmd.reason };
    const roomWide = cmd.room !== undefined && "clientId" in cmd ? cmd.room : undefined;
    if (roomWide !== undefined && "clientId" in cmd)
      this.notify(topicIvs(topicAll(app, roomWide)), id, IVS_DISCONNECT_EVENT, attrs(cmd.clientId), cmd.origin);
    for (const c of targets) {
      if (c.ivs === undefined || c.ivs.room === roomWide) continue;
      this.sockets.send(c, ivsEventFrame(id, IVS_DISCONNECT_EVENT, Date.now(), attrs(c.claims.clientId ?? "")));
    }
  }

  /** An event to an IVS topic; its origin (when on this gateway) gets the copy with its RequestId. */
  private notify(topic: string, id: string, name: string, attributes: Record<string, string>, origin: ControlOrigin | undefined): void {
    const now = Date.now();
    const o = origin === undefined ? undefined : this.sockets.byId(origin.connectionId);
    if (o !== undefined && origin !== undefined && !o.closed && o.ivs !== undefined) {
      o.socket.publish(topic, ivsEventFrame(id, name, now, attributes));
      this.sockets.send(o, ivsEventFrame(id, name, now, attributes, origin.requestId));
    } else if (this.sockets.subscribers(topic) > 0) this.sockets.publish(topic, ivsEventFrame(id, name, now, attributes));
  }
}
