/**
 * moderate.disconnect / mute / unmute / delete from a moderator socket. Each becomes a control command to every
 * gateway (this one included), answered with how many sockets it affected; a clientId mute is stored first so
 * that gateways started later honour it too, and a delete removes the stored message before gateways push
 * `message.deleted`.
 */
import { SwitchboardError, type EmptyResult, type ModerateResult, type RequestOf } from "@switchboard/protocol";
import type { ControlCommand } from "@switchboard/core";
import type { Conn } from "../connection.js";
import { requireCap, type HandlerContext } from "./context.js";

export async function moderateTarget(
  ctx: HandlerContext,
  conn: Conn,
  req: RequestOf<"moderate.disconnect" | "moderate.mute" | "moderate.unmute">,
): Promise<ModerateResult> {
  requireCap(conn, req.room, "moderate");
  const target = req.clientId !== undefined ? { clientId: req.clientId } : { connectionId: req.connectionId ?? "" };
  const cmd: ControlCommand =
    req.type === "moderate.disconnect"
      ? { op: "disconnect", room: req.room, ...target }
      : { op: req.type === "moderate.mute" ? "mute" : "unmute", room: req.room, ...target };
  if (cmd.op !== "disconnect" && req.clientId !== undefined) {
    try {
      await ctx.mutes.persist(conn.appId, req.room, req.clientId, cmd.op === "mute");
    } catch (err) {
      throw new SwitchboardError("unavailable", "the mute could not be stored; retry", { cause: err });
    }
  }
  return { affected: await ctx.moderation.command(conn.appId, cmd) };
}

export async function moderateDelete(ctx: HandlerContext, conn: Conn, req: RequestOf<"moderate.delete">): Promise<EmptyResult> {
  requireCap(conn, req.room, "moderate");
  const offset = await ctx.moderation.deleteMessage(conn.appId, req.room, req.messageId);
  await ctx.moderation.command(conn.appId, { op: "delete", room: req.room, messageId: req.messageId, offset });
  return {};
}
