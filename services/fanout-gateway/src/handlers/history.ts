/** history: a page of a room's stored messages, from the history service over NATS (HistoryClient). */
import type { HistoryResult, RequestOf } from "@switchboard/protocol";
import type { Conn } from "../connection.js";
import { requireCap, type HandlerContext } from "./context.js";

export async function history(ctx: HandlerContext, conn: Conn, req: RequestOf<"history">): Promise<HistoryResult> {
  requireCap(conn, req.room, "history");
  const { type: _type, id: _id, ...query } = req;
  const page = await ctx.history.page(conn.appId, query);
  return { messages: page.messages, next: page.next };
}
