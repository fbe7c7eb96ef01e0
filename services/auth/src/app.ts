/**
 * auth routes (docs/HTTP-API.md): token issuance and revocation for app servers (API key), and the admin API for apps and
 * keys (admin token). Sessions (docs/HTTP-API.md) are in sessions.ts; what the app is built from is in deps.ts.
 */
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { Type, type Static } from "@sinclair/typebox";
import {
  MAX_EXPIRES_IN,
  Permissions,
  SwitchboardError,
  isValidId,
  normalizeClientId,
  randomId,
  type PermissionMap,
} from "@switchboard/protocol";
import {
  KvKeys,
  RevocationRegistry,
  generateSecret,
  getApp,
  isWrongLastSequence,
  putApp,
  putKey,
  type AppRecord,
  type KeyRecord,
  type Logger,
  hasValue,
} from "@switchboard/core";
import { createHttpService } from "@switchboard/http";
import { AppPatchBody, appView, patchApp, strictValidator } from "./appsettings.js";
import { adminAuth, appKeyAuth, keyOf } from "./guards.js";
import type { AuthOptions } from "./deps.js";
import { ClientIdSchema, CountSchema, DataSchema, ExpiresInSchema, PermissionsSchema } from "./schemas.js";
import { sessionRoutes } from "./sessions.js";
import { vendorRoutes } from "./vendors/index.js";

export const TokenBody = Type.Object(
  {
    clientId: Type.Optional(ClientIdSchema),
    expiresIn: Type.Optional(ExpiresInSchema),
    permissions: Type.Optional(PermissionsSchema),
    role: Type.Optional(Type.String()),
    attributes: Type.Optional(Type.Record(Type.String(), Type.String())),
    data: Type.Optional(DataSchema),
    sessionDurationMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPIRES_IN / 60 })),
    count: Type.Optional(CountSchema),
  },
  { additionalProperties: false },
);
type TokenBody = Static<typeof TokenBody>;

const RevokeBody = Type.Object(
  { jti: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })), clientId: Type.Optional(ClientIdSchema) },
  { additionalProperties: false },
);

const AppBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const KeyBody = Type.Object({ permissions: Type.Optional(PermissionsSchema) }, { additionalProperties: false });
const AppParams = Type.Object({ app: Type.String({ minLength: 1, maxLength: 64 }) });
const KeyParams = Type.Object({ app: Type.String({ minLength: 1, maxLength: 64 }), keyId: Type.String({ minLength: 1, maxLength: 64 }) });

function idParam(name: string, value: string): string {
  if (!isValidId(value)) throw new SwitchboardError("bad_request", `${name} must be 1-64 characters from A-Z a-z 0-9 _ -`);
  return value;
}

/** The auth HTTP app: the shared shell (libs/http) with auth's routes. main.ts listens on it; route tests inject(). */
export async function buildAuthApp(
  opts: AuthOptions,
  http: { service: string; registry: Registry; log: Logger },
): Promise<FastifyInstance> {
  const app = createHttpService({ ...http, ready: () => opts.nats.ready() });
  await app.register(authRoutes, opts);
  return app;
}

export async function authRoutes(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const appKey = appKeyAuth(opts.nats);
  const admin = adminAuth(opts.adminToken);

  app.post<{ Body: TokenBody }>("/v1/tokens", { schema: { body: TokenBody }, preValidation: appKey }, async (req, reply) => {
    // buildClaims reads only the claim fields, so the body goes as it is (no object rest on the hot path).
    return reply.status(201).send(opts.issuer.issue(req.body, req.body.count, keyOf(req)));
  });

  app.post<{ Body: Static<typeof RevokeBody> }>(
    "/v1/tokens/revoke",
    { schema: { body: RevokeBody }, preValidation: appKey },
    async (req) => {
      const { jti, clientId } = req.body;
      const target = jti === undefined ? clientId : jti;
      if (target === undefined || (jti !== undefined && clientId !== undefined))
        throw new SwitchboardError("bad_request", "body: send exactly one of jti or clientId");
      const { appId } = keyOf(req);
      const now = Math.floor(Date.now() / 1000);
      const entry = { revokedAt: now, until: now + MAX_EXPIRES_IN };
      const { revocations } = opts.nats.get();
      if (jti !== undefined) {
        await RevocationRegistry.revoke(revocations, KvKeys.revokedJti(appId, jti), entry);
        return { jti, revokedAt: now * 1000 };
      }
      const id = normalizeClientId(target);
      await RevocationRegistry.revoke(revocations, KvKeys.revokedClient(appId, id), entry);
      return { clientId: id, revokedAt: now * 1000 };
    },
  );

  await app.register(sessionRoutes, { nats: opts.nats, issuer: opts.issuer, log: opts.log, appKey });
  await app.register(vendorRoutes, opts);

  // ---- admin API ----
  app.post<{ Body: Static<typeof AppBody> }>("/v1/apps", { schema: { body: AppBody }, preValidation: admin }, async (req, reply) => {
    const { apps } = opts.nats.get();
    const id = randomId(9);
    await putApp(apps, { id, name: req.body.name, createdAt: Date.now() });
    return reply.status(201).send({ id, name: req.body.name });
  });

  app.get<{ Params: Static<typeof AppParams> }>("/v1/apps/:app", { schema: { params: AppParams }, preValidation: admin }, async (req) => {
    const appId = idParam("app id", req.params.app);
    const record = await getApp(opts.nats.get().apps, appId);
    if (record === undefined) throw new SwitchboardError("not_found", `app ${appId} does not exist`);
    return appView(record);
  });

  app.patch<{ Params: Static<typeof AppParams>; Body: AppPatchBody }>(
    "/v1/apps/:app",
    { schema: { params: AppParams, body: AppPatchBody }, validatorCompiler: strictValidator, preValidation: admin },
    async (req) => {
      const appId = idParam("app id", req.params.app);
      const { apps } = opts.nats.get();
      // Compare-and-set on the record's revision, so concurrent PATCHes of different settings both land.
      for (let attempt = 1; ; attempt++) {
        const e = await apps.get(KvKeys.app(appId));
        if (!hasValue(e)) throw new SwitchboardError("not_found", `app ${appId} does not exist`);
        const next = patchApp(e.json<AppRecord>(), req.body);
        try {
          await apps.update(KvKeys.app(appId), JSON.stringify(next), e.revision);
          return appView(next);
        } catch (err) {
          if (!isWrongLastSequence(err)) throw err; // the record changed since it was read: read it again
          if (attempt >= 5) throw new SwitchboardError("conflict", `app ${appId} kept changing while being updated; retry`);
        }
      }
    },
  );

  app.post<{ Params: Static<typeof AppParams>; Body: Static<typeof KeyBody> }>(
    "/v1/apps/:app/keys",
    { schema: { params: AppParams, body: KeyBody }, preValidation: admin },
    async (req, reply) => {
      const appId = idParam("app id", req.params.app);
      const { apps, keysKv } = opts.nats.get();
      if ((await getApp(apps, appId)) === undefined) throw new SwitchboardError("not_found", `app ${appId} does not exist`);
      if (req.body.permissions !== undefined) new Permissions(req.body.permissions, "body.permissions");
      const keyId = randomId(9);
      const key = await putKey(keysKv, opts.box, { appId, keyId, secret: generateSecret(), permissions: req.body.permissions });
      return reply.status(201).send({ key, keyId, permissions: req.body.permissions ?? null });
    },
  );

  app.get<{ Params: Static<typeof AppParams> }>(
    "/v1/apps/:app/keys",
    { schema: { params: AppParams }, preValidation: admin },
    async (req) => {
      const appId = idParam("app id", req.params.app);
      const { apps, keysKv } = opts.nats.get();
      if ((await getApp(apps, appId)) === undefined) throw new SwitchboardError("not_found", `app ${appId} does not exist`);
      const keys: Array<{ keyId: string; createdAt: number; permissions: PermissionMap | null }> = [];
      for await (const k of await keysKv.keys(`${appId}.*`)) {
        const e = await keysKv.get(k);
        if (!hasValue(e)) continue;
        const r = e.json<KeyRecord>();
        keys.push({ keyId: r.keyId, createdAt: r.createdAt, permissions: r.permissions ?? null });
      }
      keys.sort((a, b) => a.createdAt - b.createdAt);
      return { keys };
    },
  );

  app.delete<{ Params: Static<typeof KeyParams> }>(
    "/v1/apps/:app/keys/:keyId",
    { schema: { params: KeyParams }, preValidation: admin },
    async (req, reply) => {
      const appId = idParam("app id", req.params.app);
      const keyId = idParam("keyId", req.params.keyId);
      const { keysKv } = opts.nats.get();
      const kid = KvKeys.key(appId, keyId);
      const e = await keysKv.get(kid);
      if (!hasValue(e)) throw new SwitchboardError("not_found", `key ${kid} does not exist`);
      await keysKv.delete(kid);
      return reply.status(204).send();
    },
  );
}
