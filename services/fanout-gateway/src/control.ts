/**
 * Commands and questions that reach every gateway over NATS (libs/core control.ts): ControlCommands on
 * Subjects.control(app) (moderation from a moderator socket or from HTTP), answered by each gateway with
 * `{affected}`, and OccupancyQuery on Subjects.occupancy(app), answered by each gateway with its local counts.
 * Senders scatter with `requestMany` and sum the replies; every gateway answers (zeros included), so a sender can
 * stop shortly after the replies stall instead of waiting out the full bound.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { SwitchboardError } from "@switchboard/protocol";
import {
  Subjects,
  type ControlCommand,
  type ControlReply,
  type Logger,
  type OccupancyQuery,
  type OccupancyReply,
} from "@switchboard/core";

/** Upper bound on a scatter/gather; it ends `STALL_MS` after the last reply. */
export const GATHER_MAX_WAIT_MS = 2000;
export const GATHER_STALL_MS = 60;

export interface ControlHandlers {
  /** Acts on a command for this gateway's sockets; undefined when the op is not the gateway's to answer here. */
  act(app: string, cmd: ControlCommand): number | undefined;
  occupancy(app: string, room: string): OccupancyReply;
}

function appOf(subject: string): string {
  return subject.slice(subject.lastIndexOf(".") + 1);
}

/** Subscribes the control and occupancy subjects of every app on this gateway. */
export function serveControl(nc: NatsConnection, handlers: ControlHandlers, log: Logger): Subscription[] {
  const control = nc.subscribe(Subjects.controlAll, {
    callback: (err, msg) => {
      if (err !== null) return;
      let affected: number | undefined;
      try {
        affected = handlers.act(appOf(msg.subject), msg.json<ControlCommand>());
      } catch (e) {
        log.warn({ err: (e as Error).message }, "control command refused");
        affected = 0;
      }
      if (affected !== undefined && msg.reply !== undefined) msg.respond(JSON.stringify({ affected } satisfies ControlReply));
    },
  });
  const occupancy = nc.subscribe(Subjects.occupancyAll, {
    callback: (err, msg) => {
      if (err !== null || msg.reply === undefined) return;
      try {
        const q = msg.json<OccupancyQuery>();
        if (typeof q.room !== "string") return;
        msg.respond(JSON.stringify(handlers.occupancy(appOf(msg.subject), q.room)));
      } catch (e) {
        log.warn({ err: (e as Error).message }, "occupancy query refused");
      }
    },
  });
  return [control, occupancy];
}

async function gather<T>(nc: NatsConnection, subject: string, body: unknown, add: (reply: T) => void): Promise<void> {
  let replies;
  try {
    replies = await nc.requestMany(subject, JSON.stringify(body), {
      strategy: "stall",
      stall: GATHER_STALL_MS,
      maxWait: GATHER_MAX_WAIT_MS,
    });
  } catch (err) {
    throw new SwitchboardError("unavailable", "gateways could not be reached over NATS; retry", { cause: err });
  }
  for await (const m of replies) {
    if (m.data.length === 0) continue; // a status message (no responders)
    add(m.json<T>());
  }
}

/** Sends a command to every gateway of the app; resolves with the summed `affected`. */
export async function sendControl(nc: NatsConnection, app: string, cmd: ControlCommand): Promise<number> {
  let affected = 0;
  await gather<ControlReply>(nc, Subjects.control(app), cmd, (r) => {
    affected += r.affected;
  });
  return affected;
}

/** Connections and subscribers of a room summed over every gateway. */
export async function gatherOccupancy(nc: NatsConnection, app: string, room: string): Promise<OccupancyReply> {
  const sum: OccupancyReply = { connections: 0, subscribers: 0 };
  await gather<OccupancyReply>(nc, Subjects.occupancy(app), { room } satisfies OccupancyQuery, (r) => {
    sum.connections += r.connections;
    sum.subscribers += r.subscribers;
  });
  return sum;
}
