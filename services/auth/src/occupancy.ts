/**
 * Connection counts gathered from every gateway (DESIGN §4 "with connection count"): a NATS request on
 * Subjects.occupancy(app) answered by each gateway holding the room; the replies are summed after a short,
 * bounded wait. No gateway (or none answering) counts as 0.
 */
import type { NatsConnection } from "@switchboard/core";
import { Subjects, type Logger, type OccupancyQuery, type OccupancyReply } from "@switchboard/core";

export const OCCUPANCY_WAIT_MS = 250;

export async function countConnections(nc: NatsConnection, app: string, room: string, log: Logger): Promise<number> {
  const query: OccupancyQuery = { room };
  let total = 0;
  try {
    const replies = await nc.requestMany(Subjects.occupancy(app), JSON.stringify(query), {
      strategy: "timer",
      maxWait: OCCUPANCY_WAIT_MS,
    });
    for await (const m of replies) {
      if (m.data.length === 0) continue; // a no-responders status
      try {
        const r = m.json<OccupancyReply>();
        if (typeof r.connections === "number") total += r.connections;
      } catch {
        log.warn({ app }, "unreadable occupancy reply");
      }
    }
  } catch (err) {
    log.debug({ err: (err as Error).message, app }, "occupancy request got no answer");
  }
  return total;
}
