/**
 * IVS chat requests (docs/VENDORS.md) on the shared handlers: a socket joins its token's room when it opens (the
 * subscribe handler, live only); SEND_MESSAGE stores a message with event `message` and data `{content,
 * attributes?}` through the same path as a native publish, after the room's length and rate limits (roomchat.ts);
 * DELETE_MESSAGE and DISCONNECT_USER are the same moderation as native sockets and HTTP, naming the request as the
 * command's origin so that the resulting event carries its RequestId (ivs/fanout.ts). Nothing is answered on
 * success except that push; a refusal is an ERROR frame with the request's RequestId.
 */
import { randomUUID } from "node:crypto";
import { CloseCode, SwitchboardError } from "@switchboard/protocol";
import { IVS_MESSAGE_EVENT, IvsFrameError, decodeIvsFrame, ivsErrorOf, ivsMessageData, type IvsRequest } from "../adapters/ivs.js";
import type { Conn, IvsState } from "../connection.js";
import { requireCap, type HandlerContext } from "../handlers/context.js";
import { storeFromSocket } from "../handlers/publish.js";
import { subscribe } from "../handlers/subscribe.js";
import { takeRoomMessage } from "../roomchat.js";
import { topicAll } from "../topics.js";
import type { IvsFanout } from "./fanout.js";

export interface IvsServeOptions {
  fanout: IvsFanout;
  /** Closes a socket with a code (counted once). */
  end(conn: Conn, code: number, reason: string): void;
  maxBadFrames: number;
}

const TYPE_OF = {
  SEND_MESSAGE: "ivs.send_message",
  DELETE_MESSAGE: "ivs.delete_message",
  DISCONNECT_USER: "ivs.disconnect_user",
} as const;

function ivsOf(conn: Conn): IvsState {
  if (conn.ivs === undefined) throw new SwitchboardError("internal", "not an IVS chat socket");
  return conn.ivs;
}

/** Subscribes a new IVS socket to its room from its upgrade's offset; closes it when that cannot be done. */
export function joinIvsRoom(ctx: HandlerContext, conn: Conn, o: Pick<IvsServeOptions, "end">): void {
  const ivs = ivsOf(conn);
  const { room, from } = ivs;
  ivs.joined = subscribe(ctx, conn, { type: "subscribe", id: 0, room, since: { offset: from } }).then(
    () => undefined,
    (err: unknown) => {
      const e = err instanceof SwitchboardError ? err : undefined;
      if (e?.code === "unauthorized") o.end(conn, CloseCode.TOKEN_INVALID, e.message);
      else {
        if (e === undefined) ctx.log.error({ err }, "IVS socket could not join its room");
        o.end(conn, CloseCode.SERVER_RESTARTING, "could not join the room; reconnect");
      }
    },
  );
}

/** One client frame of an IVS socket. */
export function serveIvsFrame(ctx: HandlerContext, conn: Conn, frame: ArrayBuffer, o: IvsServeOptions): void {
  let req: IvsRequest;
  try {
    req = decodeIvsFrame(frame);
  } catch (err) {
    const fe = err instanceof IvsFrameError ? err : new IvsFrameError(undefined, "frame could not be read");
    ctx.metrics.requests.inc({ type: "invalid", result: fe.code });
    ctx.send(conn, ivsErrorOf(fe.ivsRequestId, fe));
    if (++conn.badFrames > o.maxBadFrames) o.end(conn, CloseCode.PROTOCOL_VIOLATION, "too many malformed frames");
    return;
  }
  const type = TYPE_OF[req.action];
  // A request sent as soon as the client saw the socket open waits for the join: its MESSAGE must reach it live.
  const joined = conn.ivs?.joined ?? Promise.resolve();
  joined
    .then(() => (conn.closed ? undefined : run(ctx, conn, req, o.fanout)))
    .then(
      () => ctx.metrics.requests.inc({ type, result: "ok" }),
      (err: unknown) => {
        const e =
          err instanceof SwitchboardError ? err : new SwitchboardError("internal", "internal error; the gateway logged it", { cause: err });
        if (e.code === "internal") ctx.log.error({ err, type }, "request failed");
        ctx.metrics.requests.inc({ type, result: e.code });
        ctx.send(conn, ivsErrorOf(req.requestId, e));
      },
    );
}

/** Length in Unicode code points (IVS counts characters, not UTF-16 units). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    const hi = s.charCodeAt(i);
    const lo = s.charCodeAt(i + 1);
    if (hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
      n--;
      i++;
    }
  }
  return n;
}

async function run(ctx: HandlerContext, conn: Conn, req: IvsRequest, fanout: IvsFanout): Promise<void> {
  const { room, chat } = ivsOf(conn);
  switch (req.action) {
    case "SEND_MESSAGE": {
      requireCap(conn, room, "publish");
      const length = codePoints(req.content);
      if (length > chat.maximumMessageLength)
        throw new SwitchboardError(
          "bad_request",
          `Content is ${length} characters; this room's maximumMessageLength is ${chat.maximumMessageLength}`,
        );
      if (!takeRoomMessage(chat, Date.now()))
        throw new SwitchboardError(
          "rate_limited",
          `room over its maximumMessageRatePerSecond (${chat.maximumMessageRatePerSecond}); slow down`,
        );
      let key: string | undefined;
      try {
        await storeFromSocket(ctx, conn, room, IVS_MESSAGE_EVENT, ivsMessageData(req.content, req.attributes), undefined, (body) => {
          key = fanout.expect(topicAll(conn.appId, room), body, conn, req.requestId);
        });
      } catch (err) {
        if (key !== undefined) fanout.forget(key);
        throw err;
      }
      if (key !== undefined) fanout.settle(key);
      return;
    }
    case "DELETE_MESSAGE": {
      requireCap(conn, room, "moderate");
      const offset = await ctx.moderation.deleteMessage(conn.appId, room, req.id);
      await ctx.moderation.command(conn.appId, {
        op: "delete",
        room,
        messageId: req.id,
        offset,
        ...(req.reason !== undefined ? { reason: req.reason } : {}),
        eventId: randomUUID(),
        origin: { connectionId: conn.id, requestId: req.requestId },
      });
      return;
    }
    case "DISCONNECT_USER": {
      requireCap(conn, room, "moderate");
      await ctx.moderation.command(conn.appId, {
        op: "disconnect",
        room,
        clientId: req.userId,
        ...(req.reason !== undefined ? { reason: req.reason } : {}),
        eventId: randomUUID(),
        origin: { connectionId: conn.id, requestId: req.requestId },
      });
      return;
    }
  }
}
