/** presence.join / update / leave / get and occupancy (presence across gateways lives in ../presence.ts). */
import { SwitchboardError, type EmptyResult, type OccupancyResult, type PresenceGetResult, type RequestOf } from "@switchboard/protocol";
import { own, type Conn } from "../connection.js";
import { presenceData } from "../presence.js";
import { requireCap, type HandlerContext } from "./context.js";

export async function presenceEnter(
  ctx: HandlerContext,
  conn: Conn,
  req: RequestOf<"presence.join" | "presence.update">,
): Promise<EmptyResult> {
  requireCap(conn, req.room, "presence");
  const clientId = conn.claims.clientId;
  if (clientId === undefined) throw new SwitchboardError("bad_request", "presence needs a token with a clientId");
  const data = presenceData(req.data);
  const before = conn.presence.get(req.room);
  const joinedAt = before ?? Date.now();
  own.presence(conn).set(req.room, joinedAt);
  await ctx.presence.enter(
    conn.appId,
    req.room,
    { clientId, connectionId: conn.id, data, joinedAt },
    before === undefined ? "join" : "update",
  );
  // Closed meanwhile: the close handler's leave may have run before the put landed.
  if (conn.closed) await ctx.presence.leave(conn.appId, req.room, conn.id);
  return {};
}

export async function presenceLeave(ctx: HandlerContext, conn: Conn, req: RequestOf<"presence.leave">): Promise<EmptyResult> {
  requireCap(conn, req.room, "presence");
  if (conn.presence.has(req.room) && own.presence(conn).delete(req.room)) await ctx.presence.leave(conn.appId, req.room, conn.id);
  return {};
}

export async function presenceGet(ctx: HandlerContext, conn: Conn, req: RequestOf<"presence.get">): Promise<PresenceGetResult> {
  requireCap(conn, req.room, "presence");
  return { members: await ctx.presence.members(conn.appId, req.room) };
}

export async function occupancy(ctx: HandlerContext, conn: Conn, req: RequestOf<"occupancy">): Promise<OccupancyResult> {
  requireCap(conn, req.room, "metrics");
  const [counts, members] = await Promise.all([ctx.occupancy(conn.appId, req.room), ctx.presence.members(conn.appId, req.room)]);
  return { connections: counts.connections, subscribers: counts.subscribers, presenceMembers: members.length };
}
