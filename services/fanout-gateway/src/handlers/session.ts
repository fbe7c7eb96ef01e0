/**
 * ping, and refresh: a new token for the open socket (same app and clientId). Its permissions replace the old ones
 * at once: subscriptions and presence the new token no longer grants are ended, with an `unsubscribed` push.
 */
import { SwitchboardError, type EmptyResult, type RefreshResult, type RequestOf } from "@switchboard/protocol";
import { TokenError, type VerifiedToken } from "@switchboard/core";
import { own, type Conn } from "../connection.js";
import type { HandlerContext } from "./context.js";
import { unsubscribe } from "./subscribe.js";

export function ping(): EmptyResult {
  return {};
}

export async function refresh(ctx: HandlerContext, conn: Conn, req: RequestOf<"refresh">): Promise<RefreshResult> {
  let v: VerifiedToken;
  try {
    v = await ctx.verify(req.token);
  } catch (err) {
    if (err instanceof TokenError) {
      ctx.metrics.verifyFailures.inc({ reason: err.reason });
      throw new SwitchboardError("unauthorized", `refresh refused: ${err.message}`);
    }
    throw err;
  }
  if (v.key.appId !== conn.appId || (v.claims.clientId ?? null) !== (conn.claims.clientId ?? null))
    throw new SwitchboardError("unauthorized", "refresh token must be for the same app and clientId");
  const sessionExp = conn.claims.sessionExp;
  conn.claims = sessionExp === undefined ? v.claims : { ...v.claims, sessionExp: Math.min(sessionExp, v.claims.sessionExp ?? sessionExp) };
  conn.permissions = v.permissions;
  conn.kid = v.key.kid;
  ctx.armTimers(conn);
  for (const room of [...conn.subs.keys()]) {
    if (!conn.permissions.can(room, "subscribe")) {
      unsubscribe(ctx, conn, { room });
      ctx.send(conn, conn.adapter.unsubscribed(room, "permission removed by token refresh"));
    }
  }
  for (const room of [...conn.presence.keys()]) {
    if (!conn.permissions.can(room, "presence")) {
      own.presence(conn).delete(room);
      await ctx.presence.leave(conn.appId, room, conn.id);
    }
  }
  return { expiresAt: conn.claims.exp * 1000 };
}
