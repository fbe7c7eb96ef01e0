/** publish: a client message, acked once JetStream stored it (the same path as HTTP publishes through ingest). */
import { SwitchboardError, messageIdFromOffset, unavailable, type PublishResult, type RequestOf } from "@switchboard/protocol";
import { Subjects, encodeBody, encodeData, storeFailureMessage } from "@switchboard/core";
import { takeToken, type Conn } from "../connection.js";
import { requireCap, type HandlerContext } from "./context.js";

export async function publish(ctx: HandlerContext, conn: Conn, req: RequestOf<"publish">): Promise<PublishResult> {
  return storeFromSocket(ctx, conn, req.room, req.event, encodeData(req.data), req.idempotencyKey);
}

/**
 * Stores a message a socket sends, whatever its protocol (the native publish, an IVS SEND_MESSAGE): permission,
 * mutes and the socket's publish rate checked, the sender's clientId, attributes and connection data stamped.
 * `beforePublish` sees the stored body just before it is sent to JetStream.
 */
export async function storeFromSocket(
  ctx: HandlerContext,
  conn: Conn,
  room: string,
  event: string,
  dataJson: string,
  idempotencyKey?: string,
  beforePublish?: (body: string) => void,
): Promise<PublishResult> {
  requireCap(conn, room, "publish");
  const { clientId, attributes, data } = conn.claims;
  if (conn.muted.has(room) || (clientId !== undefined && ctx.mutes.has(conn.appId, room, clientId)))
    throw new SwitchboardError("muted", `you are muted in room ${room} by a moderator; publish refused until unmuted`);
  if (!takeToken(conn, conn.limits.publishRate, conn.limits.publishBurst, Date.now()))
    throw new SwitchboardError(
      "rate_limited",
      `publish rate over ${conn.limits.publishRate}/s (burst ${conn.limits.publishBurst}); slow down`,
    );
  const body = encodeBody({
    event,
    dataJson,
    timestamp: Date.now(),
    ...(clientId !== undefined ? { clientId } : {}),
    ...(attributes !== undefined ? { attributes } : {}),
    ...(data !== undefined ? { connectionData: data } : {}),
  });
  beforePublish?.(body);
  try {
    const ack = await ctx.publisher.publish(Subjects.room(conn.appId, room), body, {
      msgID: idempotencyKey === undefined ? undefined : `${conn.appId}:${idempotencyKey}`,
    });
    return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
  } catch (err) {
    throw unavailable(storeFailureMessage(err), err);
  }
}
