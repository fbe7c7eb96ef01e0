/**
 * Moderation over HTTP (DESIGN §6): a ControlCommand sent as a NATS request on the app's control subject reaches
 * every gateway; each answers `{affected}` and the replies are summed. Deleting a message also removes it from the
 * rooms stream so history no longer returns it.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamManager } from "@nats-io/jetstream";
import { SwitchboardError, messageIdFromOffset, offsetFromMessageId } from "@switchboard/protocol";
import { STREAM_ROOMS, Subjects, type ControlCommand, type ControlReply, type Logger } from "@switchboard/core";
import { unavailable } from "./store.js";

/** Longest wait for the first gateway's reply. */
export const CONTROL_MAX_WAIT_MS = 1000;
/** After a reply, the gathering ends once no further reply came for this long. */
export const CONTROL_STALL_MS = 100;

/**
 * Sends `cmd` to every gateway of `app` and sums their `affected`. No gateway running is 0 affected, not an error;
 * a gateway slower than the bounded wait still acts on the command, it is only not counted.
 */
export async function sendControl(nc: NatsConnection, app: string, cmd: ControlCommand, log: Logger): Promise<number> {
  let affected = 0;
  try {
    const replies = await nc.requestMany(Subjects.control(app), JSON.stringify(cmd), {
      strategy: "stall",
      maxWait: CONTROL_MAX_WAIT_MS,
      stall: CONTROL_STALL_MS,
    });
    for await (const m of replies) {
      try {
        const r = m.json<Partial<ControlReply>>();
        if (typeof r.affected === "number" && Number.isFinite(r.affected)) affected += r.affected;
      } catch {
        log.warn({ op: cmd.op }, "unreadable control reply ignored");
      }
    }
  } catch (err) {
    if (isNoResponders(err)) return 0;
    throw unavailable("could not reach the gateways over NATS; retry", err);
  }
  return affected;
}

function isNoResponders(err: unknown): boolean {
  return err instanceof Error && (err.name === "NoRespondersError" || /no responders/i.test(err.message));
}

function notFound(room: string, id: string): SwitchboardError {
  return new SwitchboardError("not_found", `message ${JSON.stringify(id)} is not a stored message of room ${JSON.stringify(room)}`);
}

/**
 * Removes message `id` of `room` from the rooms stream; throws `not_found` when the id is not a stored message of
 * that room (another room's or app's message included). Returns its offset.
 */
export async function deleteStoredMessage(jsm: JetStreamManager, app: string, room: string, id: string): Promise<number> {
  const offset = offsetFromMessageId(id);
  if (offset === undefined || messageIdFromOffset(offset) !== id) throw notFound(room, id);
  let stored;
  try {
    stored = await jsm.streams.getMessage(STREAM_ROOMS, { seq: offset });
  } catch (err) {
    throw unavailable("JetStream could not read the message; retry", err);
  }
  if (stored === null || stored.subject !== Subjects.room(app, room)) throw notFound(room, id);
  try {
    await jsm.streams.deleteMessage(STREAM_ROOMS, offset, false);
  } catch (err) {
    // Deleted concurrently by another request: the same outcome as not found.
    if (/no message found|not found/i.test((err as Error).message)) throw notFound(room, id);
    throw unavailable("JetStream could not delete the message; retry", err);
  }
  return offset;
}
