/**
 * subscribe and unsubscribe. A subscribe replays what the client asks for (`since` an offset it saw, or the `last`
 * n messages) from history, then switches the socket to live with no gap and no duplicate: whatever the room's live
 * ring holds beyond the replay is sent synchronously, in the same cork, before the socket joins the room's topic;
 * every later message reaches it through the topic.
 */
import { SwitchboardError, type EmptyResult, type RequestOf, type StoredMessage, type SubscribeResult } from "@switchboard/protocol";
import { own, type Conn, type RoomSub } from "../connection.js";
import { liveEntryFromStored, type Room } from "../rooms.js";
import { topicEvent, topicMeta, topicPresence } from "../topics.js";
import { requireCap, type HandlerContext } from "./context.js";

/** Where a subscription starts (exclusive), what to replay before live, and whether the replay is complete. */
interface Start {
  from: number;
  replay: StoredMessage[];
  recovered: boolean;
}

export async function subscribe(ctx: HandlerContext, conn: Conn, req: RequestOf<"subscribe">): Promise<SubscribeResult> {
  requireCap(conn, req.room, "subscribe");
  if (req.presence === true) requireCap(conn, req.room, "presence");
  if (conn.pending.has(req.room)) throw new SwitchboardError("conflict", `a subscribe to ${req.room} is already in progress`);
  if (conn.subs.has(req.room)) unsubscribe(ctx, conn, req);
  if (conn.subs.size + conn.pending.size >= conn.limits.maxRoomsPerSocket)
    throw new SwitchboardError(
      "rate_limited",
      `a socket may subscribe at most ${conn.limits.maxRoomsPerSocket} rooms (maxRoomsPerSocket); unsubscribe one first`,
    );
  own.pending(conn).add(req.room);
  const room = ctx.hub.acquire(conn.appId, req.room);
  let handedOver = false;
  try {
    await room.ready;
    const { from, recovered, replay: replayed } = await startOf(ctx, conn.appId, req, room);
    let replay = replayed;
    if (conn.closed) return { room: req.room, offset: from, recovered };
    // A heal in progress would re-deliver what the replay already holds: let it finish first.
    await room.settled();
    let last = replay.at(-1)?.offset ?? from;
    const head = room.since(last)[0];
    if (head !== undefined && head.prev > last) {
      // The ring does not reach back to `last`: fetch the messages in between first.
      replay = replay.concat(await ctx.history.range(conn.appId, req.room, last, head.prev));
      last = replay.at(-1)?.offset ?? last;
    }
    await room.settled();
    // The socket may have closed during the awaits (TypeScript keeps the narrowing from the check above).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (conn.closed) return { room: req.room, offset: from, recovered };
    const { events } = req;
    const presence = req.presence ?? false;
    const wants = (event: string) => events === undefined || events.includes(event);
    const { socket, adapter } = conn;
    socket.cork(() => {
      for (const m of replay) {
        const e = liveEntryFromStored(m);
        if (wants(e.event)) socket.send(adapter.message(room.roomJson, e.offset, e.body));
      }
      for (const e of room.since(last)) if (wants(e.event)) socket.send(adapter.message(room.roomJson, e.offset, e.body));
      if (events === undefined) socket.subscribe(adapter.topic(room.key));
      else {
        for (const e of events) {
          room.addFilter(e);
          socket.subscribe(topicEvent(conn.appId, req.room, e));
        }
        socket.subscribe(topicMeta(conn.appId, req.room));
      }
      if (presence) socket.subscribe(topicPresence(conn.appId, req.room));
    });
    if (presence) ctx.presence.watch(conn.appId, req.room);
    room.startAt(last);
    own.subs(conn).set(req.room, { room, events, presence });
    room.subscribers++;
    handedOver = true;
    ctx.metrics.subscriptions.inc();
    ctx.metrics.rooms.set(ctx.hub.size);
    const offset = Math.max(last, room.lastOffset, from);
    return { room: req.room, offset, recovered: req.since === undefined ? false : recovered };
  } finally {
    own.pending(conn).delete(req.room);
    if (!handedOver) ctx.hub.release(room);
  }
}

/** Where the socket's stream starts: the room's current end, or the client's resume point with its replay. */
async function startOf(ctx: HandlerContext, app: string, req: RequestOf<"subscribe">, room: Room): Promise<Start> {
  const since = req.since;
  if (since !== undefined && "offset" in since) {
    const r = await replayAfter(ctx, app, req.room, since.offset);
    return { from: since.offset, replay: r.messages, recovered: r.complete };
  }
  if (since !== undefined && "last" in since) {
    const page =
      since.last === 0 ? [] : (await ctx.history.page(app, { room: req.room, limit: since.last, direction: "backwards" })).messages;
    const replay = page.reverse();
    const first = replay[0];
    return { from: first !== undefined ? first.offset - 1 : await ctx.offsets.last(app, req.room), replay, recovered: true };
  }
  return { from: await room.endOffset(() => ctx.offsets.last(app, req.room)), replay: [], recovered: false };
}

/**
 * Everything after `after` that history holds now. `complete` is false when the resume window is gone: retention
 * drops a room's oldest messages first, so what the client missed is intact exactly when the room's oldest stored
 * message is at or before `after` (offset 0 asks for everything stored).
 */
async function replayAfter(
  ctx: HandlerContext,
  app: string,
  room: string,
  after: number,
): Promise<{ messages: StoredMessage[]; complete: boolean }> {
  const oldest = after === 0 ? null : await ctx.offsets.first(app, room);
  const { messages, exhausted } = await ctx.history.forwards(app, room, after);
  return { messages, complete: exhausted && (after === 0 || (oldest !== null && oldest <= after)) };
}

export function unsubscribe(ctx: HandlerContext, conn: Conn, req: { room: string }): EmptyResult {
  const sub = conn.subs.get(req.room);
  if (sub === undefined) throw new SwitchboardError("not_subscribed", `not subscribed to room ${req.room}`);
  own.subs(conn).delete(req.room);
  dropSub(ctx, conn, req.room, sub);
  ctx.metrics.rooms.set(ctx.hub.size);
  return {};
}

/** Releases what a subscription holds: its uWS topics (while the socket is open), filters, presence watch, room. */
export function dropSub(ctx: HandlerContext, conn: Conn, roomName: string, sub: RoomSub): void {
  if (!conn.closed) {
    const { socket } = conn;
    if (sub.events === undefined) socket.unsubscribe(conn.adapter.topic(sub.room.key));
    else {
      for (const e of sub.events) socket.unsubscribe(topicEvent(conn.appId, roomName, e));
      socket.unsubscribe(topicMeta(conn.appId, roomName));
    }
    if (sub.presence) socket.unsubscribe(topicPresence(conn.appId, roomName));
  }
  if (sub.events !== undefined) for (const e of sub.events) sub.room.removeFilter(e);
  if (sub.presence) ctx.presence.unwatch(conn.appId, roomName);
  sub.room.subscribers--;
  ctx.hub.release(sub.room);
  ctx.metrics.subscriptions.dec();
}
