/**
 * auth routes (DESIGN §3): the admin API for apps and keys, and token issuance for app servers.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { KV } from "@nats-io/kv";
import {
  Permissions,
  SwitchboardError,
  buildClaims,
  isValidId,
  randomId,
  signToken,
  tokenResponse,
  type PermissionMap,
  type TokenRequest,
} from "@switchboard/protocol";
import {
  KvKeys,
  constantTimeEqual,
  generateSecret,
  getApp,
  putApp,
  putKey,
  type KeyRecord,
  type KeyRegistry,
  type NatsRuntime,
  type SecretBox,
  type authMetrics,
} from "@switchboard/core";
import { authorizationOf } from "@switchboard/http";

export interface AuthDeps {
  apps: KV;
  keysKv: KV;
  keys: KeyRegistry;
}

export interface AuthOptions {
  nats: NatsRuntime<AuthDeps>;
  box: SecretBox;
  adminToken: string | undefined;
  metrics: ReturnType<typeof authMetrics>;
}

export const MAX_TOKENS_PER_CALL = 1000;

const PermissionsSchema = Type.Record(Type.String(), Type.Array(Type.String(), { maxItems: 7 }), { maxProperties: 64 });

export const TokenBody = Type.Object(
  {
    clientId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Number()])),
    expiresIn: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 * 3600 })),
    permissions: Type.Optional(PermissionsSchema),
    role: Type.Optional(Type.String()),
    attributes: Type.Optional(Type.Record(Type.String(), Type.String())),
    data: Type.Optional(Type.String({ maxLength: 1000 })),
    sessionDurationMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 * 60 })),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKENS_PER_CALL })),
  },
  { additionalProperties: false },
);
type TokenBody = Static<typeof TokenBody>;

const AppBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const KeyBody = Type.Object({ permissions: Type.Optional(PermissionsSchema) }, { additionalProperties: false });
const AppParams = Type.Object({ app: Type.String({ minLength: 1, maxLength: 64 }) });
const KeyParams = Type.Object({ app: Type.String({ minLength: 1, maxLength: 64 }), keyId: Type.String({ minLength: 1, maxLength: 64 }) });

function requireAdmin(opts: AuthOptions, req: FastifyRequest): void {
  if (opts.adminToken === undefined)
    throw new SwitchboardError("unauthorized", "the admin API is disabled: set SWITCHBOARD_ADMIN_TOKEN on the auth service", { status: 403 });
  const header = authorizationOf(req);
  const given = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
  if (given === undefined || !constantTimeEqual(given, opts.adminToken))
    throw new SwitchboardError("unauthorized", "admin API: send Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN");
}

function appIdParam(app: string): string {
  if (!isValidId(app)) throw new SwitchboardError("bad_request", "app id must be 1-64 characters from A-Z a-z 0-9 _ -");
  return app;
}

/** Issues `count` tokens (or one) for a token request, signed with `key`. */
export async function issueTokens(
  body: TokenBody,
  key: { appId: string; keyId: string; secret: string; ceilingMap: PermissionMap | undefined },
): Promise<unknown> {
  const { count, ...request } = body;
  const one = async () => {
    const claims = buildClaims(request as TokenRequest, { ceiling: key.ceilingMap });
    return tokenResponse(await signToken(claims, key), claims);
  };
  if (count === undefined) return one();
  const tokens = [];
  for (let i = 0; i < count; i++) tokens.push(await one());
  return { tokens };
}

export async function authRoutes(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  app.post<{ Body: TokenBody }>("/v1/tokens", { schema: { body: TokenBody } }, async (req, reply) => {
    const key = await opts.nats.get().keys.authenticate(authorizationOf(req));
    const result = await issueTokens(req.body, key);
    opts.metrics.tokensIssued.inc(req.body.count ?? 1);
    return reply.status(201).send(result);
  });

  // ---- admin API ----
  app.post<{ Body: Static<typeof AppBody> }>("/v1/apps", { schema: { body: AppBody } }, async (req, reply) => {
    requireAdmin(opts, req);
    const { apps } = opts.nats.get();
    const id = randomId(9);
    await putApp(apps, { id, name: req.body.name, createdAt: Date.now() });
    return reply.status(201).send({ id, name: req.body.name });
  });

  app.post<{ Params: Static<typeof AppParams>; Body: Static<typeof KeyBody> }>(
    "/v1/apps/:app/keys",
    { schema: { params: AppParams, body: KeyBody } },
    async (req, reply) => {
      requireAdmin(opts, req);
      const appId = appIdParam(req.params.app);
      const { apps, keysKv } = opts.nats.get();
      if ((await getApp(apps, appId)) === undefined) throw new SwitchboardError("not_found", `app ${appId} does not exist`);
      if (req.body.permissions !== undefined) new Permissions(req.body.permissions, "permissions");
      const keyId = randomId(9);
      const key = await putKey(keysKv, opts.box, { appId, keyId, secret: generateSecret(), permissions: req.body.permissions });
      return reply.status(201).send({ key, keyId, permissions: req.body.permissions ?? null });
    },
  );

  app.get<{ Params: Static<typeof AppParams> }>("/v1/apps/:app/keys", { schema: { params: AppParams } }, async (req) => {
    requireAdmin(opts, req);
    const appId = appIdParam(req.params.app);
    const { apps, keysKv } = opts.nats.get();
    if ((await getApp(apps, appId)) === undefined) throw new SwitchboardError("not_found", `app ${appId} does not exist`);
    const keys: Array<{ keyId: string; createdAt: number; permissions: PermissionMap | null }> = [];
    for await (const k of await keysKv.keys(`${appId}.*`)) {
      const e = await keysKv.get(k);
      if (e === null || e.operation !== "PUT") continue;
      const r = e.json<KeyRecord>();
      keys.push({ keyId: r.keyId, createdAt: r.createdAt, permissions: r.permissions ?? null });
    }
    keys.sort((a, b) => a.createdAt - b.createdAt);
    return { keys };
  });

  app.delete<{ Params: Static<typeof KeyParams> }>("/v1/apps/:app/keys/:keyId", { schema: { params: KeyParams } }, async (req, reply) => {
    requireAdmin(opts, req);
    const appId = appIdParam(req.params.app);
    if (!isValidId(req.params.keyId)) throw new SwitchboardError("bad_request", "keyId must be 1-64 characters from A-Z a-z 0-9 _ -");
    const { keysKv } = opts.nats.get();
    const kid = KvKeys.key(appId, req.params.keyId);
    const e = await keysKv.get(kid);
    if (e === null || e.operation !== "PUT") throw new SwitchboardError("not_found", `key ${kid} does not exist`);
    await keysKv.delete(kid);
    return reply.status(204).send();
  });
}
