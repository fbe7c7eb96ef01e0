/**
 * OpenVidu REST drop-in (`/openvidu/api`, for openvidu-node-client 2.32): sessions are Switchboard sessions
 * (sessions.ts), connections are pending records with a Switchboard session token (connections.ts), force-disconnect
 * and force-unpublish are Switchboard moderation (a disconnect, a mute) sent to every gateway. What OpenVidu does
 * with media (recording, broadcast, IP cameras, `recordingMode: ALWAYS`) is answered 501, OpenVidu's own "not
 * available" status. Statuses are exactly the client's: 200 for POST/GET/PATCH, 204 for DELETE, and its errors
 * (400, 401, 404, 409, 501) carry OpenVidu's JSON error body; the client itself shows only the status.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Static } from "@sinclair/typebox";
import { MAX_EXPIRES_IN, isValidId, randomId, sessionRoom } from "@switchboard/protocol";
import { KvKeys, RevocationRegistry, type ResolvedKey } from "@switchboard/core";
import type { AuthDeps } from "../../deps.js";
import { closeSession, createSession, listSessions, readSession, type SessionRecord } from "../../sessions.js";
import { VendorError, notFoundRoute, vendorScope } from "../errors.js";
import type { VendorOptions } from "../options.js";
import {
  OvConnections,
  withStatus,
  type OvConnection,
  type OvConnectionProps,
  type OvConnectionRecord,
  type OvRole,
} from "./connections.js";
import {
  ConnectionBody,
  ConnectionParams,
  ConnectionPatchBody,
  ListQuery,
  OV_PROPS_MAX_BYTES,
  SessionBody,
  SessionParams,
  StreamParams,
  TokenBody,
  connectionJson,
  sessionJson,
  sessionProps,
  tokenJson,
} from "./json.js";

export const OPENVIDU_PREFIX = "/openvidu/api";
/** The fixed user name of OpenVidu's Basic auth; the password is the whole Switchboard API key. */
export const OPENVIDU_USER = "OPENVIDUAPP";
/** A force-unpublish names the connection's one pseudo-stream: `str_<connectionId>`. */
export const STREAM_PREFIX = "str_";

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** OpenVidu's error body (Spring's): timestamp, status, error, message, path. */
function sendOpenViduError(reply: FastifyReply, err: VendorError, req: FastifyRequest): FastifyReply {
  return reply.status(err.status).send({
    timestamp: Date.now(),
    status: err.status,
    error: STATUS_TEXT[err.status] ?? "Error",
    message: err.message,
    path: req.url.split("?")[0],
  });
}

const keys = new WeakMap<FastifyRequest, ResolvedKey>();

function keyOf(req: FastifyRequest): ResolvedKey {
  const k = keys.get(req);
  if (k === undefined) throw new VendorError(500, "internal", "route is missing its OpenVidu auth check");
  return k;
}

/** `Authorization: Basic base64("OPENVIDUAPP:" + "appId.keyId:secret")`, checked as every API key is. */
async function authenticate(deps: Pick<AuthDeps, "keys">, req: FastifyRequest): Promise<void> {
  const h = req.headers.authorization;
  const unauthorized = () =>
    new VendorError(
      401,
      "unauthorized",
      `send Authorization: Basic base64("${OPENVIDU_USER}:" + your Switchboard API key appId.keyId:secret)`,
    );
  if (typeof h !== "string" || !h.startsWith("Basic ")) throw unauthorized();
  const decoded = Buffer.from(h.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0 || decoded.slice(0, colon) !== OPENVIDU_USER) throw unauthorized();
  keys.set(req, await deps.keys.authenticate(`Bearer ${decoded.slice(colon + 1)}`));
}

function sessionIdOf(id: string): string {
  if (!isValidId(id)) throw new VendorError(404, "not_found", `session ${JSON.stringify(id)} does not exist`);
  return id;
}

export function openviduRoutes(app: FastifyInstance, opts: VendorOptions): Promise<void> {
  vendorScope(app, { vendor: "openvidu", metrics: opts.metrics, log: opts.log, send: sendOpenViduError });
  app.setNotFoundHandler((req, reply) => sendOpenViduError(reply, notFoundRoute(req), req));
  app.addHook("preValidation", (req) => authenticate(opts.nats.get(), req));

  const connections = () => new OvConnections(opts.nats.get().sessions, opts.box);

  const requireOvSession = async (appId: string, id: string): Promise<SessionRecord> => {
    const s = await readSession(opts.nats.get().sessions, appId, sessionIdOf(id));
    if (s === undefined) throw new VendorError(404, "not_found", `session ${id} does not exist or was closed`);
    return s;
  };

  /** The session's connections with their status; only the active ones unless `pending`. */
  const connectionsOf = async (appId: string, sessionId: string, pending: boolean): Promise<OvConnection[]> => {
    const deps = opts.nats.get();
    const [all, members] = await Promise.all([connections().list(appId, sessionId), deps.presence(appId, sessionRoom(sessionId))]);
    const out = all.map((c) => withStatus(c.record, c.token, members));
    return pending ? out : out.filter((c) => c.status === "active");
  };

  const requireConnection = async (appId: string, sessionId: string, cid: string) => {
    const c = isValidId(cid) ? await connections().get(appId, sessionId, cid) : undefined;
    if (c === undefined) throw new VendorError(404, "not_found", `connection ${cid} does not exist in session ${sessionId}`);
    return c;
  };

  const statusOf = async (appId: string, record: Omit<OvConnectionRecord, "token">, token: string) =>
    withStatus(record, token, await opts.nats.get().presence(appId, sessionRoom(record.sessionId)));

  /** A connection's token: a Switchboard session token whose clientId is the connection id, as a connect URL. */
  const connectionToken = (key: ResolvedKey, sessionId: string, connectionId: string, role: OvRole, serverData: string) => {
    const issued = opts.issuer.issue(
      {
        permissions: { [sessionRoom(sessionId)]: ["*"] },
        role: role.toLowerCase(),
        clientId: connectionId,
        expiresIn: MAX_EXPIRES_IN,
        ...(serverData !== "" ? { data: serverData } : {}),
      },
      undefined,
      key,
    );
    if (!("token" in issued)) throw new VendorError(500, "internal", "one token was asked for, several came back");
    const { jti } = JSON.parse(Buffer.from(issued.token.split(".")[1] ?? "", "base64url").toString("utf8")) as { jti: string };
    return { token: connectUrl(sessionId, issued.token), jti, exp: Math.floor(issued.expiresAt / 1000) };
  };

  /** A new pending connection with its token. */
  const newConnection = async (key: ResolvedKey, sessionId: string, props: OvConnectionProps): Promise<OvConnection> => {
    const connectionId = `con_${randomId(9)}`;
    const rec = {
      ...props,
      connectionId,
      sessionId,
      createdAt: Date.now(),
      ...connectionToken(key, sessionId, connectionId, props.role, props.serverData),
    };
    await connections().create(key.appId, rec);
    return withStatus(rec, rec.token, []);
  };

  const connectUrl = (sessionId: string, jwt: string) =>
    `${opts.publicGatewayUrl}/v1/ws?sessionId=${encodeURIComponent(sessionId)}&token=${jwt}`;

  const propsOf = (body: ConnectionBody): OvConnectionProps => {
    if (body.type === "IPCAM" || (body.rtspUri !== undefined && body.rtspUri !== null))
      throw new VendorError(501, "not_supported", "IPCAM connections (rtspUri) need media, which Switchboard does not carry");
    return {
      role: body.role ?? "PUBLISHER",
      serverData: body.data ?? "",
      record: body.record ?? true,
      kurentoOptions: body.kurentoOptions ?? null,
      adaptativeBitrate: body.adaptativeBitrate ?? true,
      onlyPlayWithSubscribers: body.onlyPlayWithSubscribers ?? true,
      networkCache: body.networkCache ?? 2000,
      customIceServers: body.customIceServers ?? [],
    };
  };

  // ---- sessions ----

  app.post<{ Body: SessionBody }>("/sessions", { schema: { body: SessionBody } }, async (req) => {
    const key = keyOf(req);
    const body = req.body;
    if (body.recordingMode === "ALWAYS")
      throw new VendorError(501, "not_supported", "recordingMode ALWAYS: Switchboard does not record; use MANUAL (recordings answer 501)");
    const props = sessionProps(body);
    if (Buffer.byteLength(JSON.stringify(props)) > OV_PROPS_MAX_BYTES)
      throw new VendorError(
        400,
        "bad_request",
        `defaultRecordingProperties and mediaNode must be at most ${OV_PROPS_MAX_BYTES} bytes as JSON`,
      );
    const record: SessionRecord = {
      sessionId: props.customSessionId !== "" ? props.customSessionId : `ses_${randomId(9)}`,
      mediaMode: body.mediaMode === "RELAYED" ? "relayed" : "routed",
      location: null,
      metadata: { openvidu: props },
      createdAt: Date.now(),
    };
    await createSession(opts.nats.get().sessions, key.appId, record);
    return sessionJson(record, []);
  });

  app.get<{ Querystring: ListQuery }>("/sessions", { schema: { querystring: ListQuery } }, async (req) => {
    const { appId } = keyOf(req);
    const records = await listSessions(opts.nats.get().sessions, appId);
    const content = await Promise.all(
      records.map(async (s) => sessionJson(s, await connectionsOf(appId, s.sessionId, req.query.pendingConnections === true))),
    );
    return { numberOfElements: content.length, content };
  });

  app.get<{ Params: Static<typeof SessionParams>; Querystring: ListQuery }>(
    "/sessions/:id",
    { schema: { params: SessionParams, querystring: ListQuery } },
    async (req) => {
      const { appId } = keyOf(req);
      const s = await requireOvSession(appId, req.params.id);
      return sessionJson(s, await connectionsOf(appId, s.sessionId, req.query.pendingConnections === true));
    },
  );

  app.delete<{ Params: Static<typeof SessionParams> }>("/sessions/:id", { schema: { params: SessionParams } }, async (req, reply) => {
    const { appId } = keyOf(req);
    await closeSession(opts.nats.get(), appId, sessionIdOf(req.params.id));
    return reply.status(204).send();
  });

  // ---- connections and tokens ----

  app.post<{ Params: Static<typeof SessionParams>; Body: ConnectionBody }>(
    "/sessions/:id/connection",
    { schema: { params: SessionParams, body: ConnectionBody } },
    async (req) => {
      const key = keyOf(req);
      const s = await requireOvSession(key.appId, req.params.id);
      return connectionJson(await newConnection(key, s.sessionId, propsOf(req.body)));
    },
  );

  app.post<{ Body: TokenBody }>("/tokens", { schema: { body: TokenBody } }, async (req) => {
    const key = keyOf(req);
    const s = await requireOvSession(key.appId, req.body.session);
    const c = await newConnection(
      key,
      s.sessionId,
      propsOf({ role: req.body.role ?? null, data: req.body.data ?? null, kurentoOptions: req.body.kurentoOptions ?? null }),
    );
    return tokenJson(c);
  });

  app.get<{ Params: Static<typeof SessionParams> }>("/sessions/:id/connection", { schema: { params: SessionParams } }, async (req) => {
    const { appId } = keyOf(req);
    const s = await requireOvSession(appId, req.params.id);
    const content = (await connectionsOf(appId, s.sessionId, true)).map(connectionJson);
    return { numberOfElements: content.length, content };
  });

  app.get<{ Params: Static<typeof ConnectionParams> }>(
    "/sessions/:id/connection/:cid",
    { schema: { params: ConnectionParams } },
    async (req) => {
      const { appId } = keyOf(req);
      const s = await requireOvSession(appId, req.params.id);
      const c = await requireConnection(appId, s.sessionId, req.params.cid);
      return connectionJson(await statusOf(appId, c.record, c.token));
    },
  );

  /**
   * A new role or record flag. The role lives in the connection's token, so the token is replaced and the old one
   * revoked: a socket already connected with it is closed (4004) and reconnects with the new token.
   */
  app.patch<{ Params: Static<typeof ConnectionParams>; Body: ConnectionPatchBody }>(
    "/sessions/:id/connection/:cid",
    { schema: { params: ConnectionParams, body: ConnectionPatchBody } },
    async (req) => {
      const key = keyOf(req);
      const s = await requireOvSession(key.appId, req.params.id);
      const c = await requireConnection(key.appId, s.sessionId, req.params.cid);
      const role = req.body.role ?? c.record.role;
      const record = req.body.record ?? c.record.record;
      const replaced =
        role === c.record.role ? undefined : connectionToken(key, s.sessionId, c.record.connectionId, role, c.record.serverData);
      const next = { ...c.record, role, record, ...(replaced ?? { token: c.token }) };
      if (!(await connections().update(key.appId, next, c.revision)))
        throw new VendorError(409, "conflict", `connection ${c.record.connectionId} changed while being updated; retry`);
      if (replaced === undefined) return connectionJson(await statusOf(key.appId, next, next.token));
      const now = Math.floor(Date.now() / 1000);
      await RevocationRegistry.revoke(opts.nats.get().revocations, KvKeys.revokedJti(key.appId, c.record.jti), {
        revokedAt: now,
        until: c.record.exp,
      });
      return connectionJson(await statusOf(key.appId, next, next.token));
    },
  );

  /** Force-disconnect: the connection is gone, its token refused from now on, its sockets closed (4004). */
  app.delete<{ Params: Static<typeof ConnectionParams> }>(
    "/sessions/:id/connection/:cid",
    { schema: { params: ConnectionParams } },
    async (req, reply) => {
      const { appId } = keyOf(req);
      const s = await requireOvSession(appId, req.params.id);
      const c = await requireConnection(appId, s.sessionId, req.params.cid);
      const deps = opts.nats.get();
      const now = Math.floor(Date.now() / 1000);
      await RevocationRegistry.revoke(deps.revocations, KvKeys.revokedClient(appId, c.record.connectionId), {
        revokedAt: now,
        until: c.record.exp,
      });
      await connections().remove(appId, s.sessionId, c.record.connectionId);
      await deps.moderation.command(appId, {
        op: "disconnect",
        clientId: c.record.connectionId,
        reason: "disconnected by the application",
      });
      return reply.status(204).send();
    },
  );

  /** Force-unpublish: the connection is muted in its session (its publishes are refused) until the session ends. */
  app.delete<{ Params: Static<typeof StreamParams> }>(
    "/sessions/:id/stream/:streamId",
    { schema: { params: StreamParams } },
    async (req, reply) => {
      const { appId } = keyOf(req);
      const s = await requireOvSession(appId, req.params.id);
      const { streamId } = req.params;
      const cid = streamId.startsWith(STREAM_PREFIX) ? streamId.slice(STREAM_PREFIX.length) : "";
      const c = isValidId(cid) ? await connections().get(appId, s.sessionId, cid) : undefined;
      if (c === undefined) throw new VendorError(404, "not_found", `stream ${streamId} does not exist in session ${s.sessionId}`);
      const deps = opts.nats.get();
      const room = sessionRoom(s.sessionId);
      await deps.mutes.put(KvKeys.mute(appId, room, cid), JSON.stringify({ mutedAt: Date.now() }));
      await deps.moderation.command(appId, { op: "mute", room, clientId: cid });
      return reply.status(204).send();
    },
  );

  // ---- media features Switchboard does not have ----

  const notSupported = (what: string) => () => {
    throw new VendorError(501, "not_supported", `${what} are not available: Switchboard carries no media`);
  };
  for (const path of ["/recordings", "/recordings/*"]) app.all(path, notSupported("recordings"));
  for (const path of ["/broadcast", "/broadcast/*"]) app.all(path, notSupported("broadcasts"));
  return Promise.resolve();
}
