/** publish: a client message, acked once JetStream stored it (the same path as HTTP publishes through ingest). */
import { SwitchboardError, messageIdFromOffset, type PublishResult, type RequestOf } from "@switchboard/protocol";
import { Subjects, encodeBody, encodeData } from "@switchboard/core";
import { takeToken, type Conn } from "../connection.js";
import { requireCap, type HandlerContext } from "./context.js";

export async function publish(ctx: HandlerContext, conn: Conn, req: RequestOf<"publish">): Promise<PublishResult> {
  requireCap(conn, req.room, "publish");
  const { clientId, attributes, data } = conn.claims;
  if (conn.muted.has(req.room) || (clientId !== undefined && ctx.mutes.has(conn.appId, req.room, clientId)))
    throw new SwitchboardError("muted", `you are muted in room ${req.room} by a moderator; publish refused until unmuted`);
  if (!takeToken(conn, conn.limits.publishRate, conn.limits.publishBurst, Date.now()))
    throw new SwitchboardError(
      "rate_limited",
      `publish rate over ${conn.limits.publishRate}/s (burst ${conn.limits.publishBurst}); slow down`,
    );
  const body = encodeBody({
    event: req.event,
    dataJson: encodeData(req.data),
    timestamp: Date.now(),
    ...(clientId !== undefined ? { clientId } : {}),
    ...(attributes !== undefined ? { attributes } : {}),
    ...(data !== undefined ? { connectionData: data } : {}),
  });
  try {
    const ack = await ctx.publisher.publish(Subjects.room(conn.appId, req.room), body, {
      msgID: req.idempotencyKey === undefined ? undefined : `${conn.appId}:${req.idempotencyKey}`,
    });
    return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
  } catch (err) {
    throw new SwitchboardError("unavailable", "JetStream could not store the message; retry", { cause: err });
  }
}
