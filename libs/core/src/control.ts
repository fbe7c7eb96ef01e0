/**
 * Control commands carried on `sb.ctl.<app>` (Subjects.control) to every gateway: moderation from HTTP or from a
 * moderator socket, session close, a signal to one connection. A command sent as a NATS request is answered by each gateway with
 * `{affected}` (sockets or subscriptions it acted on), so the sender can sum the replies.
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { SwitchboardError, messageIdFromOffset, offsetFromMessageId, unavailable } from "@switchboard/protocol";
import type { Logger } from "./logger.js";
import { JsApiCode, isJsApiError, isNoResponders } from "./natserrors.js";
import { STREAM_ROOMS, Subjects } from "./subjects.js";

export type ControlTarget = { clientId: string } | { connectionId: string };

/**
 * Who asked for a moderation action over a socket protocol whose client waits for the resulting push (IVS chat:
 * the `aws:DELETE_MESSAGE` / `aws:DISCONNECT_USER` event carries its request's RequestId; docs/VENDORS.md).
 */
export interface ControlOrigin {
  connectionId: string;
  requestId: string;
}

/** What IVS chat sockets are shown of a delete or disconnect: the event id (the same on every gateway), a reason. */
export interface ControlNotice {
  reason?: string;
  eventId?: string;
  origin?: ControlOrigin;
}

export type ControlCommand =
  | ({ op: "disconnect"; room?: string; reason?: string; eventId?: string; origin?: ControlOrigin } & ControlTarget)
  | ({ op: "mute" | "unmute"; room: string } & ControlTarget)
  | ({ op: "delete"; room: string; messageId: string; offset: number } & ControlNotice)
  | { op: "session.close"; sessionId: string }
  /** An unstored push to one connection of `room` (docs/PROTOCOL.md `signal`); affected 0 = no such connection. */
  | { op: "signal"; room: string; connectionId: string; event: string; data: unknown };

export interface ControlReply {
  affected: number;
}

/**
 * Occupancy is gathered from every gateway: a request on `sb.occ.<app>` (Subjects.occupancy) with
 * `OccupancyQuery` is answered by each gateway that has the room locally; the requester sums the replies
 * (nats.js `requestMany`, bounded wait). Presence members are counted from the presence bucket, not here.
 */
export interface OccupancyQuery {
  room: string;
}

export interface OccupancyReply {
  connections: number;
  subscribers: number;
}

/** Longest wait for the gateways' replies to a scatter/gather. */
export const GATHER_MAX_WAIT_MS = 1000;
/** A gather ends once no further reply came for this long (every gateway answers, zeros included). */
export const GATHER_STALL_MS = 100;

/**
 * Scatter/gather to every gateway: a `requestMany` on `subject` that ends GATHER_STALL_MS after the replies stop
 * (at most GATHER_MAX_WAIT_MS). No gateway running is no reply, not an error; a NATS failure is `unavailable`.
 * A gateway slower than the bound still acts on a command; it is only not counted.
 */
async function gather(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  add: (reply: Partial<Record<string, unknown>>) => void,
  log: Logger,
): Promise<void> {
  try {
    const replies = await nc.requestMany(subject, JSON.stringify(body), {
      strategy: "stall",
      stall: GATHER_STALL_MS,
      maxWait: GATHER_MAX_WAIT_MS,
    });
    for await (const m of replies) {
      if (m.data.length === 0) continue; // a status message (no responders)
      try {
        add(m.json<Partial<Record<string, unknown>>>());
      } catch {
        log.warn({ subject }, "unreadable gateway reply ignored");
      }
    }
  } catch (err) {
    // No gateway running: nothing to count. The iterator may raise it as well as the request.
    if (isNoResponders(err)) return;
    throw unavailable("the gateways could not be reached over NATS; retry", err);
  }
}

/** Sends a command to every gateway of the app; resolves with the summed `affected`. */
export async function sendControl(nc: NatsConnection, app: string, cmd: ControlCommand, log: Logger): Promise<number> {
  let affected = 0;
  await gather(
    nc,
    Subjects.control(app),
    cmd,
    ({ affected: a }: Partial<Record<keyof ControlReply, unknown>>) => {
      if (typeof a === "number" && Number.isSafeInteger(a)) affected += a;
    },
    log,
  );
  return affected;
}

/** Connections and subscribers of a room summed over every gateway (0 when none runs). */
export async function gatherOccupancy(nc: NatsConnection, app: string, room: string, log: Logger): Promise<OccupancyReply> {
  const total: OccupancyReply = { connections: 0, subscribers: 0 };
  await gather(
    nc,
    Subjects.occupancy(app),
    { room } satisfies OccupancyQuery,
    ({ connections, subscribers }: Partial<Record<keyof OccupancyReply, unknown>>) => {
      if (typeof connections === "number" && Number.isSafeInteger(connections)) total.connections += connections;
      if (typeof subscribers === "number" && Number.isSafeInteger(subscribers)) total.subscribers += subscribers;
    },
    log,
  );
  return total;
}

/** Moderation that reaches the gateways over NATS, as HTTP routes use it (a stub stands in for it in route tests). */
export interface Moderation {
  /** Sends `cmd` to every gateway of `app` (sendControl); resolves with the summed `affected`. */
  command(app: string, cmd: ControlCommand): Promise<number>;
  /** Removes a stored message of a room (deleteStoredMessage); resolves with its offset. */
  deleteMessage(app: string, room: string, id: string): Promise<number>;
}

export function natsModeration(nc: NatsConnection, jsm: JetStreamManager, log: Logger): Moderation {
  return {
    command: (app, cmd) => sendControl(nc, app, cmd, log),
    deleteMessage: (app, room, id) => deleteStoredMessage(jsm, app, room, id),
  };
}

/**
 * Removes message `id` of `room` from the rooms stream, so history no longer returns it; throws `not_found` when
 * the id is not a stored message of that room (another room's or app's included). Returns its offset. Whoever
 * deletes (HTTP or a moderator socket) then sends the `delete` command so gateways push `message.deleted`.
 */
export async function deleteStoredMessage(jsm: JetStreamManager, app: string, room: string, id: string): Promise<number> {
  const notFound = () =>
    new SwitchboardError("not_found", `message ${JSON.stringify(id)} is not a stored message of room ${JSON.stringify(room)}`);
  const offset = offsetFromMessageId(id);
  if (offset === undefined || messageIdFromOffset(offset) !== id) throw notFound();
  const stored = await readStored(jsm, offset);
  if (stored === null || stored.subject !== Subjects.room(app, room)) throw notFound();
  try {
    await jsm.streams.deleteMessage(STREAM_ROOMS, offset, false);
  } catch (err) {
    // 10057 is every failed delete; when the message is gone it was deleted concurrently: the same outcome as not found.
    if (isJsApiError(err, JsApiCode.StreamMsgDeleteFailed) && (await readStored(jsm, offset)) === null) throw notFound();
    throw unavailable("JetStream could not delete the message; retry", err);
  }
  return offset;
}

async function readStored(jsm: JetStreamManager, offset: number): Promise<StoredMsg | null> {
  try {
    return await jsm.direct.getMessage(STREAM_ROOMS, { seq: offset });
  } catch (err) {
    throw unavailable("JetStream could not read the message; retry", err);
  }
}
