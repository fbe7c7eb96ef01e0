/**
 * OpenTok REST drop-in (for the `opentok` Node SDK 2.23, legacy "OpenTok" mode): `POST /session/create` mints
 * OpenTok-format session ids embedding the apiKey (sessionid.ts) as Switchboard sessions; a signal to a session is
 * a message stored in room `session:<id>` (event = its type), so every socket of the session receives it; a signal
 * to one connection is an unstored `signal` push to that socket alone (a control command to the gateways);
 * force-disconnect is a Switchboard disconnect of that socket. Requests are authenticated by X-OPENTOK-AUTH
 * (projectauth.ts). The apiKey is the Switchboard key id `appId.keyId` and the secret its secret: the SDK's local
 * checks accept it. Media features (archives, broadcasts, streams, SIP, captions, …) answer 501. Errors are
 * `{code, message}` JSON with OpenTok's statuses, so the SDK raises AuthError (401/403), NotFoundError,
 * SignalError or ForceDisconnectError (404), or RequestError with the message.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { assertEvent, isValidId, sessionRoom, type PublishResult } from "@switchboard/protocol";
import type { ResolvedKey } from "@switchboard/core";
import { createSession, readSession, type SessionRecord } from "../../sessions.js";
import { VendorError, vendorScope } from "../errors.js";
import type { VendorOptions } from "../options.js";
import { storeRoomMessage } from "../store.js";
import { verifyProjectJwt } from "./projectauth.js";
import { OPENTOK_API_KEY_MAX, mintSessionId } from "@switchboard/core";

/** Signal limits of the OpenTok REST API: type ≤ 128 characters, data ≤ 8 KB. */
export const SIGNAL_TYPE_MAX = 128;
export const SIGNAL_DATA_MAX = 8192;
/** The event of a signal sent without a type. */
export const UNTYPED_SIGNAL_EVENT = "signal";

function sendOpenTokError(reply: FastifyReply, err: VendorError): FastifyReply {
  return reply
    .status(err.status)
    .header("content-type", "application/json; charset=utf-8")
    .send({ code: err.status, message: err.message });
}

const CreateBody = Type.Object(
  {
    archiveMode: Type.Optional(Type.Union([Type.Literal("manual"), Type.Literal("always")])),
    "p2p.preference": Type.Optional(Type.Union([Type.Literal("enabled"), Type.Literal("disabled")])),
    location: Type.Optional(Type.String({ maxLength: 15, pattern: "^(\\d{1,3}\\.){3}\\d{1,3}$" })),
    e2ee: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false")])),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;

const SignalBody = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: SIGNAL_TYPE_MAX })),
    data: Type.String({ maxLength: SIGNAL_DATA_MAX }),
  },
  { additionalProperties: false },
);
type SignalBody = Static<typeof SignalBody>;

const SessionParams = Type.Object({ apiKey: Type.String({ maxLength: 129 }), sid: Type.String({ maxLength: 256 }) });
const ConnectionParams = Type.Object({
  apiKey: Type.String({ maxLength: 129 }),
  sid: Type.String({ maxLength: 256 }),
  cid: Type.String({ maxLength: 256 }),
});
type SessionParams = Static<typeof SessionParams>;
type ConnectionParams = Static<typeof ConnectionParams>;

const keys = new WeakMap<FastifyRequest, ResolvedKey>();

function keyOf(req: FastifyRequest): ResolvedKey {
  const k = keys.get(req);
  if (k === undefined) throw new VendorError(500, "internal", "route is missing its OpenTok auth check");
  return k;
}

/** RFC 1123 date, as OpenTok's `create_dt`. */
const rfc1123 = (ms: number) => new Date(ms).toUTCString();

export function opentokRoutes(app: FastifyInstance, opts: VendorOptions): Promise<void> {
  vendorScope(app, { vendor: "opentok", metrics: opts.metrics, log: opts.log, send: sendOpenTokError });
  app.addHook("preValidation", async (req) => {
    keys.set(req, await verifyProjectJwt(req.headers["x-opentok-auth"], (kid) => opts.nats.get().keyById(kid)));
  });

  /** The project in the path must be the authenticated one; the session must be one of its app's. */
  const requireSession = async (req: FastifyRequest, p: SessionParams): Promise<{ key: ResolvedKey; session: SessionRecord }> => {
    const key = keyOf(req);
    if (p.apiKey !== key.kid) throw new VendorError(403, "forbidden", `X-OPENTOK-AUTH was signed for apiKey ${key.kid}, not ${p.apiKey}`);
    const session = isValidId(p.sid) ? await readSession(opts.nats.get().sessions, key.appId, p.sid) : undefined;
    if (session === undefined) throw new VendorError(404, "not_found", `session ${p.sid} does not exist in this project`);
    return { key, session };
  };

  app.post<{ Body: CreateBody }>("/session/create", { schema: { body: CreateBody } }, async (req, reply) => {
    const key = keyOf(req);
    if (req.body.archiveMode === "always")
      throw new VendorError(501, "not_supported", "archiveMode always: Switchboard does not archive (record); use manual");
    if (req.body.e2ee === "true") throw new VendorError(501, "not_supported", "e2ee: Switchboard carries no media to encrypt end to end");
    const sessionId = mintSessionId(key.kid);
    if (sessionId === undefined)
      throw new VendorError(
        400,
        "bad_request",
        `apiKey ${key.kid} is longer than ${OPENTOK_API_KEY_MAX} characters: OpenTok session ids embed it; use a key with shorter ids`,
      );
    const record: SessionRecord = {
      sessionId,
      mediaMode: req.body["p2p.preference"] === "disabled" ? "routed" : "relayed",
      location: req.body.location ?? null,
      metadata: { opentok: { archiveMode: req.body.archiveMode ?? "manual" } },
      createdAt: Date.now(),
    };
    await createSession(opts.nats.get().sessions, key.appId, record);
    return reply.header("content-type", "application/json; charset=utf-8").send([
      {
        session_id: sessionId,
        project_id: key.kid,
        partner_id: key.kid,
        create_dt: rfc1123(record.createdAt),
        session_status: null,
        status_invalid: null,
        media_server_hostname: null,
        messaging_server_url: null,
        messaging_url: null,
        symphony_address: null,
        properties: null,
        ice_server: null,
        session_segment_id: null,
        ice_servers: null,
        ice_credential_expiration: null,
      },
    ]);
  });

  /** The Switchboard event of a signal: its type, or UNTYPED_SIGNAL_EVENT without one. */
  const signalEvent = (body: SignalBody): string => {
    const event = body.type === undefined || body.type === "" ? UNTYPED_SIGNAL_EVENT : body.type;
    try {
      assertEvent(event);
    } catch (err) {
      throw new VendorError(400, "bad_request", `type: ${(err as Error).message}`);
    }
    return event;
  };

  const signal = async (key: ResolvedKey, sessionId: string, body: SignalBody): Promise<PublishResult> =>
    storeRoomMessage(opts.nats.get().publisher, {
      app: key.appId,
      room: sessionRoom(sessionId),
      event: signalEvent(body),
      data: body.data,
    });

  app.post<{ Params: SessionParams; Body: SignalBody }>(
    "/v2/project/:apiKey/session/:sid/signal",
    { schema: { params: SessionParams, body: SignalBody } },
    async (req, reply) => {
      const { key, session } = await requireSession(req, req.params);
      await signal(key, session.sessionId, req.body);
      return reply.status(204).send();
    },
  );

  /**
   * A signal to one connection: not stored (a stored message reaches every subscriber of the room), but sent to the
   * gateways as a control command; the one holding that connection pushes it to that socket alone (docs/PROTOCOL.md
   * `signal`). No gateway holding it = 404, which the SDK raises as SignalError.
   */
  app.post<{ Params: ConnectionParams; Body: SignalBody }>(
    "/v2/project/:apiKey/session/:sid/connection/:cid/signal",
    { schema: { params: ConnectionParams, body: SignalBody } },
    async (req, reply) => {
      const { key, session } = await requireSession(req, req.params);
      const affected = await opts.nats.get().moderation.command(key.appId, {
        op: "signal",
        room: sessionRoom(session.sessionId),
        connectionId: req.params.cid,
        event: signalEvent(req.body),
        data: req.body.data,
      });
      if (affected === 0)
        throw new VendorError(404, "not_found", `connection ${req.params.cid} is not connected to session ${session.sessionId}`);
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: ConnectionParams }>(
    "/v2/project/:apiKey/session/:sid/connection/:cid",
    { schema: { params: ConnectionParams } },
    async (req, reply) => {
      const { key, session } = await requireSession(req, req.params);
      const affected = await opts.nats.get().moderation.command(key.appId, {
        op: "disconnect",
        room: sessionRoom(session.sessionId),
        connectionId: req.params.cid,
        reason: "disconnected by the application",
      });
      if (affected === 0)
        throw new VendorError(404, "not_found", `connection ${req.params.cid} is not connected to session ${session.sessionId}`);
      return reply.status(204).send();
    },
  );

  app.all("/v2/project/:apiKey/*", () => {
    throw new VendorError(501, "not_supported", "not available: Switchboard serves sessions, signals and force-disconnect, not media");
  });
  return Promise.resolve();
}
