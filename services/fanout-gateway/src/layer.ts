/**
 * The gateway's request layer: everything that needs NATS, built in one go once the runtime is ready, from its
 * deps (the connection is taken once, here): the room hub and its delivery to uWS topics, presence, the history
 * client, the handler context, and what reaches this gateway from elsewhere (control commands, signals and occupancy
 * questions from other gateways, key deletions, revocations). The gateway's sockets exist only once it does.
 */
import { CloseCode, unavailable, type StoredMessage } from "@switchboard/protocol";
import {
  STREAM_ROOMS,
  Subjects,
  gatherOccupancy,
  createLastOffsets,
  type LastOffsets,
  natsHistoryClient,
  natsModeration,
  verifyToken,
  type ControlCommand,
  type Logger,
  type OccupancyReply,
} from "@switchboard/core";
import { nativeAdapter } from "./adapters/native.js";
import { own, type Conn } from "./connection.js";
import { serveControl } from "./control.js";
import type { GatewayDeps } from "./deps.js";
import type { HandlerContext } from "./handlers/index.js";
import { RoomHub } from "./hub.js";
import { IvsFanout } from "./ivs/fanout.js";
import type { GatewayMetrics } from "./metrics.js";
import { PresenceHub } from "./presence.js";
import { closeRevokedSockets } from "./revocation.js";
import { topicEvent, topicMeta, topicPresence } from "./topics.js";

/** Rooms reading history at once when the gateway catches up after a NATS reconnect. */
const CATCH_UP_CONCURRENCY = 8;
/** How long a room's newest-offset lookup waits for JetStream (nats.js's JetStream API default). */
const LOOKUP_TIMEOUT_MS = 5000;
/** How long a gap heal or a catch-up keeps retrying history (it answers `unavailable` while it reconnects itself). */
const HISTORY_RETRY_MS = 30_000;

/**
 * Runs `read` until it succeeds or HISTORY_RETRY_MS have passed, backing off from 100 ms to 2 s: after a reconnect
 * the history service may still be reconnecting too, or a second history process has to take over.
 */
async function retrying<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + HISTORY_RETRY_MS;
  for (let wait = 100; ; wait = Math.min(2000, wait * 2)) {
    try {
      return await read();
    } catch (err) {
      if (Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** A room offset lookup; its failure is JetStream's, so the caller is told to retry. */
async function lookup<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw unavailable("could not read the room's offsets from JetStream; retry", err);
  }
}

/** What the layer needs from the gateway's sockets. */
export interface Sockets {
  /** Open sockets' state. */
  all(): Iterable<Conn>;
  byId(id: string): Conn | undefined;
  closeWhere(pred: (c: Conn) => boolean, code: number, reason: string): number;
  send(conn: Conn, frame: string): void;
  armTimers(conn: Conn): void;
  /** Publishes a frame to a uWS topic. */
  publish(topic: string, frame: string): void;
  /** Sockets subscribed to a uWS topic. */
  subscribers(topic: string): number;
}

export interface LayerOptions {
  log: Logger;
  metrics: GatewayMetrics;
  sockets: Sockets;
}

export class RequestLayer {
  readonly ctx: HandlerContext;
  /** The NATS side (registries the upgrade reads). */
  readonly deps: GatewayDeps;
  readonly hub: RoomHub;
  /** Room messages and moderation events for IVS chat sockets. */
  readonly ivs: IvsFanout;
  private readonly presence: PresenceHub;
  private readonly controlSubs: Array<{ unsubscribe(): void }>;
  /** Rooms' newest offsets (a subscribe's start) through one reply subscription (libs/core lastoffsets.ts). */
  private readonly lastOffsets: LastOffsets;
  private stopped = false;

  constructor(deps: GatewayDeps, o: LayerOptions) {
    this.deps = deps;
    const { nc, jsm, log } = { ...deps, log: o.log };
    this.lastOffsets = createLastOffsets(nc, jsm, { stream: STREAM_ROOMS, timeoutMs: LOOKUP_TIMEOUT_MS });
    const { metrics, sockets } = o;
    const history = natsHistoryClient(nc);
    // Room topics carry native frames; IVS chat sockets have topics of their own (ivs/fanout.ts).
    const adapter = nativeAdapter;
    const ivs = new IvsFanout(sockets);
    this.ivs = ivs;
    this.hub = new RoomHub({
      nc,
      log,
      deliver: (room, e) => {
        const frame = adapter.message(room.roomJson, e.offset, e.body);
        sockets.publish(room.key, frame);
        if (room.filteredEvents.has(e.event)) sockets.publish(topicEvent(room.app, room.name, e.event), frame);
        ivs.deliver(room, e);
      },
      fetchRange: (app, room, after, upTo): Promise<StoredMessage[]> => retrying(() => history.range(app, room, after, upTo)),
      fetchAfter: async (app, room, after): Promise<StoredMessage[]> => (await retrying(() => history.forwards(app, room, after))).messages,
      onDelivered: (n, ts) => {
        metrics.delivered.inc(n);
        if (ts !== undefined) metrics.latency.observe(Math.max(0, Date.now() - ts) / 1000);
      },
      onGap: () => metrics.dropped.inc({ reason: "live_gap_healed" }),
    });
    this.presence = new PresenceHub({
      nc,
      js: deps.js,
      jsm,
      kv: deps.presence,
      log,
      push: (app, room, roomJson, action, memberJson) =>
        sockets.publish(topicPresence(app, room), adapter.presence(roomJson, action, memberJson)),
    });
    this.ctx = {
      log,
      metrics,
      hub: this.hub,
      presence: this.presence,
      history,
      // A lookup JetStream could not answer (no stream leader yet, a node rejoining) is `unavailable` (retry), not
      // an internal error: seen after a partition heal in test/faults/nats-cluster.test.ts.
      offsets: {
        last: (app, room) => lookup(() => this.lastOffsets.of(Subjects.room(app, room))),
        first: (app, room) =>
          lookup(async () => (await jsm.direct.getMessage(STREAM_ROOMS, { seq: 1, next_by_subj: Subjects.room(app, room) }))?.seq ?? null),
      },
      publisher: deps.publisher,
      mutes: deps.mutes,
      moderation: natsModeration(nc, jsm, log),
      occupancy: (app, room) => gatherOccupancy(nc, app, room, log),
      verify: (token) => verifyToken(token, { keys: deps.keys, revocations: deps.revocations }),
      send: (conn, frame) => sockets.send(conn, frame),
      armTimers: (conn) => sockets.armTimers(conn),
    };
    this.controlSubs = serveControl(
      nc,
      { act: (app, cmd) => this.act(deps, sockets, app, cmd), occupancy: (app, room) => this.localOccupancy(sockets, app, room) },
      log,
    );
    deps.keys.onDelete((kid) => sockets.closeWhere((c) => c.kid === kid, CloseCode.KICKED, "key revoked"));
    closeRevokedSockets(sockets, deps.revocations);
    void this.catchUpOnReconnect(deps, log, metrics);
  }

  /**
   * Republished messages are core NATS: whatever was stored while this gateway was disconnected never reaches it.
   * On every reconnect each room it serves reads what it missed from history at once (docs/OPERATIONS.md, "NATS
   * reconnects"), instead of waiting for the room's next message to reveal the gap.
   */
  private async catchUpOnReconnect(deps: GatewayDeps, log: Logger, metrics: GatewayMetrics): Promise<void> {
    for await (const s of deps.nc.status()) {
      if (this.stopped) return;
      if (s.type !== "reconnect") continue;
      void this.hub.catchUp(CATCH_UP_CONCURRENCY).then(({ rooms, messages }) => {
        if (messages > 0) metrics.recovered.inc(messages);
        log.info({ rooms, messages }, "caught rooms up after a NATS reconnect");
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.lastOffsets.close();
    for (const r of this.hub.all()) r.close();
    for (const s of this.controlSubs) s.unsubscribe();
    this.presence.stop();
  }

  /** This gateway's share of a room's occupancy: subscribed sockets, plus presence members not subscribed. */
  private localOccupancy(sockets: Sockets, app: string, room: string): OccupancyReply {
    const subscribers = this.hub.get(app, room)?.subscribers ?? 0;
    let connections = subscribers;
    for (const id of this.presence.localMembers(app, room)?.keys() ?? []) {
      if (sockets.byId(id)?.subs.has(room) !== true) connections++;
    }
    return { connections, subscribers };
  }

  /** A control command for this gateway's sockets (from any gateway or from HTTP); returns how many it affected. */
  private act(deps: GatewayDeps, sockets: Sockets, app: string, cmd: ControlCommand): number | undefined {
    switch (cmd.op) {
      case "disconnect": {
        const room = cmd.room;
        const pred = (c: Conn) =>
          c.appId === app &&
          matchesTarget(c, cmd) &&
          (room === undefined || c.subs.has(room) || c.pending.has(room) || c.presence.has(room));
        this.ivs.disconnecting(app, cmd, [...sockets.all()].filter(pred));
        return sockets.closeWhere(pred, CloseCode.KICKED, cmd.reason ?? "disconnected by a moderator");
      }
      case "mute":
      case "unmute": {
        const mute = cmd.op === "mute";
        if ("clientId" in cmd) deps.mutes.apply(app, cmd.room, cmd.clientId, mute);
        let n = 0;
        for (const c of sockets.all()) {
          if (c.appId !== app || !matchesTarget(c, cmd)) continue;
          if (mute) {
            if ("connectionId" in cmd) own.muted(c).add(cmd.room);
          } else if (c.muted.has(cmd.room)) own.muted(c).delete(cmd.room);
          n++;
        }
        return n;
      }
      case "delete": {
        const room = this.hub.get(app, cmd.room);
        if (room === undefined) return 0;
        room.forget(cmd.offset);
        const frame = nativeAdapter.deleted(cmd.room, cmd.messageId);
        sockets.publish(room.key, frame);
        sockets.publish(topicMeta(app, cmd.room), frame);
        this.ivs.deleted(app, cmd);
        return room.subscribers;
      }
      case "signal": {
        // One connection, not a room topic: an unstored push (docs/PROTOCOL.md `signal`) through its own protocol.
        const c = sockets.byId(cmd.connectionId);
        if (c === undefined || c.closed || c.appId !== app || !inRoom(c, cmd.room)) return 0;
        sockets.send(c, c.adapter.signal(cmd.room, cmd.event, cmd.data));
        return 1;
      }
      default:
        // session.close is answered by the revocation watcher (revocation.ts).
        return undefined;
    }
  }
}

/**
 * Whether a socket is a connection of `room` for a signal: its token lets it subscribe there (an OpenTok connection
 * belongs to its session from the connect on), or it is subscribed, subscribing or a presence member.
 */
function inRoom(c: Conn, room: string): boolean {
  return c.permissions.can(room, "subscribe") || c.subs.has(room) || c.pending.has(room) || c.presence.has(room);
}

function matchesTarget(c: Conn, t: { clientId: string } | { connectionId: string }): boolean {
  return "clientId" in t ? c.claims.clientId === t.clientId : c.id === t.connectionId;
}
