/**
 * Sessions (docs/HTTP-API.md, Tokbox / OpenVidu style): a session is a record in the sessions bucket and a room
 * `session:<id>`; its tokens carry a role on that one room. Closing a session deletes the record, writes a
 * session revocation (gateways close its sockets with 4004 and every verifier refuses its tokens issued until
 * then) and announces `session.close` on the app's control subject.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { MAX_EXPIRES_IN, SwitchboardError, isValidId, randomId, sessionRoom, type TokenRequest } from "@switchboard/protocol";
import {
  KvKeys,
  RevocationRegistry,
  Subjects,
  gatherOccupancy,
  isWrongLastSequence,
  type ControlCommand,
  type Logger,
  type NatsRuntime,
  hasValue,
} from "@switchboard/core";
import type { KV } from "@nats-io/kv";
import type { AuthDeps } from "./deps.js";
import { ClientIdSchema, CountSchema, DataSchema, ExpiresInSchema } from "./schemas.js";
import { keyOf } from "./guards.js";
import type { Issuer } from "./issuer.js";

export const MEDIA_MODES = ["relayed", "routed"] as const;
export const METADATA_MAX_BYTES = 4096;

export interface SessionRecord {
  sessionId: string;
  mediaMode: (typeof MEDIA_MODES)[number];
  location: string | null;
  metadata: unknown;
  createdAt: number;
}

const SessionBody = Type.Object(
  {
    customSessionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" })),
    mediaMode: Type.Optional(Type.Union(MEDIA_MODES.map((m) => Type.Literal(m)))),
    location: Type.Optional(Type.String({ maxLength: 256 })),
    metadata: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

const SessionTokenBody = Type.Object(
  {
    role: Type.Optional(Type.String()),
    data: Type.Optional(DataSchema),
    expiresIn: Type.Optional(ExpiresInSchema),
    /** Absolute expiry, epoch milliseconds. */
    expireTime: Type.Optional(Type.Integer({ minimum: 0 })),
    count: Type.Optional(CountSchema),
    clientId: Type.Optional(ClientIdSchema),
  },
  { additionalProperties: false },
);

const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
type Params = { Params: Static<typeof SessionParams> };

export interface SessionRouteOptions {
  nats: NatsRuntime<AuthDeps>;
  issuer: Issuer;
  log: Logger;
  appKey: (req: FastifyRequest) => Promise<void>;
}

function sessionIdParam(id: string): string {
  if (!isValidId(id)) throw new SwitchboardError("bad_request", "session id must be 1-64 characters from A-Z a-z 0-9 _ -");
  return id;
}

export async function readSession(kv: KV, appId: string, id: string): Promise<SessionRecord | undefined> {
  const e = await kv.get(KvKeys.session(appId, id));
  return !hasValue(e) ? undefined : e.json<SessionRecord>();
}

export async function requireSession(kv: KV, appId: string, id: string): Promise<SessionRecord> {
  const s = await readSession(kv, appId, id);
  if (s === undefined) throw new SwitchboardError("not_found", `session ${id} does not exist or was closed`);
  return s;
}

/** Stores a new session; `conflict` (409) when its id is taken. */
export async function createSession(kv: KV, appId: string, record: SessionRecord): Promise<void> {
  try {
    await kv.create(KvKeys.session(appId, record.sessionId), JSON.stringify(record));
  } catch (err) {
    if (isWrongLastSequence(err))
      throw new SwitchboardError("conflict", `body.customSessionId: session ${record.sessionId} already exists`);
    throw err;
  }
}

/** The app's open sessions, oldest first. */
export async function listSessions(kv: KV, appId: string): Promise<SessionRecord[]> {
  const records: SessionRecord[] = [];
  for await (const k of await kv.keys(KvKeys.session(appId, "*"))) {
    const s = await readSession(kv, appId, k.slice(appId.length + 1));
    if (s !== undefined) records.push(s);
  }
  return records.sort((a, b) => a.createdAt - b.createdAt || (a.sessionId < b.sessionId ? -1 : 1));
}

/**
 * Closes an open session (`not_found` when it is not): revocation first (once stored, no token of this session
 * works anywhere, whatever happens next), then the record and the vendor connection records under it, then the
 * `session.close` announcement.
 */
export async function closeSession(deps: Pick<AuthDeps, "sessions" | "revocations" | "nc">, appId: string, id: string): Promise<void> {
  const { sessions, revocations, nc } = deps;
  await requireSession(sessions, appId, id);
  const now = Math.floor(Date.now() / 1000);
  await RevocationRegistry.revoke(revocations, KvKeys.revokedSession(appId, id), { revokedAt: now, until: now + MAX_EXPIRES_IN });
  await sessions.delete(KvKeys.session(appId, id));
  for await (const k of await sessions.keys(KvKeys.sessionConnections(appId, id))) await sessions.purge(k);
  const command: ControlCommand = { op: "session.close", sessionId: id };
  nc.publish(Subjects.control(appId), JSON.stringify(command));
}

/** `expiresIn` from the request, or from `expireTime` (epoch ms); never both. */
function expiresInOf(body: Static<typeof SessionTokenBody>, nowMs: number): number | undefined {
  if (body.expireTime === undefined) return body.expiresIn;
  if (body.expiresIn !== undefined) throw new SwitchboardError("bad_request", "body: send expiresIn or expireTime, not both");
  const seconds = Math.ceil((body.expireTime - nowMs) / 1000);
  if (seconds < 1 || seconds > MAX_EXPIRES_IN)
    throw new SwitchboardError("bad_request", "body.expireTime must be epoch milliseconds in the future, at most 30 days ahead");
  return seconds;
}

export function sessionRoutes(app: FastifyInstance, opts: SessionRouteOptions): Promise<void> {
  const withConnections = async (appId: string, s: SessionRecord) => ({
    ...s,
    connections: (await gatherOccupancy(opts.nats.get().nc, appId, sessionRoom(s.sessionId), opts.log)).connections,
  });

  app.post<{ Body: Static<typeof SessionBody> }>(
    "/v1/sessions",
    { schema: { body: SessionBody }, preValidation: opts.appKey },
    async (req, reply) => {
      const { appId } = keyOf(req);
      const body = req.body;
      if (body.metadata !== undefined && Buffer.byteLength(JSON.stringify(body.metadata)) > METADATA_MAX_BYTES)
        throw new SwitchboardError("bad_request", `body.metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON`);
      const record: SessionRecord = {
        sessionId: body.customSessionId ?? randomId(12),
        mediaMode: body.mediaMode ?? "relayed",
        location: body.location ?? null,
        metadata: body.metadata ?? null,
        createdAt: Date.now(),
      };
      await createSession(opts.nats.get().sessions, appId, record);
      return reply.status(201).send(record);
    },
  );

  app.get("/v1/sessions", { preValidation: opts.appKey }, async (req) => {
    const { appId } = keyOf(req);
    const records = await listSessions(opts.nats.get().sessions, appId);
    return { sessions: await Promise.all(records.map((s) => withConnections(appId, s))) };
  });

  app.get<Params>("/v1/sessions/:id", { schema: { params: SessionParams }, preValidation: opts.appKey }, async (req) => {
    const { appId } = keyOf(req);
    const s = await requireSession(opts.nats.get().sessions, appId, sessionIdParam(req.params.id));
    return withConnections(appId, s);
  });

  app.delete<Params>("/v1/sessions/:id", { schema: { params: SessionParams }, preValidation: opts.appKey }, async (req, reply) => {
    const { appId } = keyOf(req);
    const id = sessionIdParam(req.params.id);
    await closeSession(opts.nats.get(), appId, id);
    return reply.status(204).send();
  });

  app.post<Params & { Body: Static<typeof SessionTokenBody> }>(
    "/v1/sessions/:id/tokens",
    { schema: { params: SessionParams, body: SessionTokenBody }, preValidation: opts.appKey },
    async (req, reply) => {
      const key = keyOf(req);
      const id = sessionIdParam(req.params.id);
      await requireSession(opts.nats.get().sessions, key.appId, id);
      const { role, data, clientId, count } = req.body;
      const request: TokenRequest = {
        permissions: { [sessionRoom(id)]: ["*"] },
        role: role ?? "publisher",
        expiresIn: expiresInOf(req.body, Date.now()),
        data,
        clientId,
      };
      return reply.status(201).send(opts.issuer.issue(request, count, key));
    },
  );
  return Promise.resolve();
}
