/**
 * Commands and questions that reach every gateway over NATS (libs/core control.ts): ControlCommands on
 * Subjects.control(app) (moderation from a moderator socket or from HTTP), answered by each gateway with
 * `{affected}`, and OccupancyQuery on Subjects.occupancy(app), answered by each gateway with its local counts.
 * Senders scatter with `requestMany` and sum the replies (sendControl / gatherOccupancy in libs/core); every gateway
 * answers (zeros included), so a sender can stop shortly after the replies stall instead of waiting out the full
 * bound.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Subjects, type ControlCommand, type ControlReply, type Logger, type OccupancyQuery, type OccupancyReply } from "@switchboard/core";

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
