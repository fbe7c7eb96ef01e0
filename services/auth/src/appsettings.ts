/**
 * App settings for the admin API (`GET` / `PATCH /v1/apps/:app`): name, per-app socket limits (docs/PROTOCOL.md, applied by
 * the gateway) and history retention (docs/HTTP-API.md, applied by history). Bounds come from APP_LIMIT_BOUNDS and
 * APP_RETENTION_BOUNDS in @switchboard/core, the one place they are defined. `null` removes a setting.
 *
 * The PATCH body is checked with TypeBox's own compiler rather than the shared Ajv, whose type coercion would turn a
 * `0` into `null` inside an `integer | null` union and so silently remove a setting instead of refusing the value.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";
import {
  APP_LIMIT_BOUNDS,
  APP_MAX_ORIGINS,
  APP_ORIGIN_PATTERN,
  APP_RETENTION_BOUNDS,
  type AppLimits,
  type AppRecord,
  type AppRetentionSettings,
} from "@switchboard/core";

function bounded(b: { min: number; max: number }, unit = "") {
  return Type.Union([Type.Integer({ minimum: b.min, maximum: b.max }), Type.Null()], {
    hint: `must be an integer from ${b.min} to ${b.max}${unit}, or null to remove it`,
  });
}

const LimitsPatch = Type.Object(
  {
    maxRoomsPerSocket: Type.Optional(bounded(APP_LIMIT_BOUNDS.maxRoomsPerSocket)),
    publishRate: Type.Optional(bounded(APP_LIMIT_BOUNDS.publishRate, " (publishes per second)")),
    publishBurst: Type.Optional(bounded(APP_LIMIT_BOUNDS.publishBurst)),
    maxOutboundBytes: Type.Optional(bounded(APP_LIMIT_BOUNDS.maxOutboundBytes, " (bytes)")),
    maxFrameBytes: Type.Optional(bounded(APP_LIMIT_BOUNDS.maxFrameBytes, " (bytes)")),
    maxConnections: Type.Optional(bounded(APP_LIMIT_BOUNDS.maxConnections, " (open sockets of the app on one gateway)")),
    allowedOrigins: Type.Optional(
      Type.Union([Type.Array(Type.String({ pattern: APP_ORIGIN_PATTERN }), { minItems: 1, maxItems: APP_MAX_ORIGINS }), Type.Null()], {
        hint: `must be a list of 1 to ${APP_MAX_ORIGINS} origins like "https://app.example" (scheme://host[:port], no path), or null to remove it`,
      }),
    ),
  },
  { additionalProperties: false },
);

const RetentionPatch = Type.Object(
  {
    maxAgeMs: Type.Optional(bounded(APP_RETENTION_BOUNDS.maxAgeMs, " (milliseconds)")),
    maxMessagesPerRoom: Type.Optional(bounded(APP_RETENTION_BOUNDS.maxMessagesPerRoom)),
  },
  { additionalProperties: false },
);

export const AppPatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    limits: Type.Optional(Type.Union([LimitsPatch, Type.Null()], { hint: "must be an object of limits, or null to remove them all" })),
    retention: Type.Optional(
      Type.Union([RetentionPatch, Type.Null()], { hint: "must be an object of retention settings, or null to remove them" }),
    ),
  },
  { additionalProperties: false },
);
export type AppPatchBody = Static<typeof AppPatchBody>;

/** An Ajv-shaped error, so the shared error handler names the field as it does for every other route. */
interface FieldError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  message: string;
  params: Record<string, unknown>;
}

/** The most specific error under `e` (down through unions' first variant), with the hint of its field if any. */
function explain(e: ValueError): FieldError {
  let cur = e;
  let hint: string | undefined;
  for (;;) {
    const h = (cur.schema as { hint?: unknown }).hint;
    if (typeof h === "string") hint = h;
    let next: ValueError | undefined;
    for (const variant of cur.errors) {
      const first = variant.First();
      if (first !== undefined && first.path.length >= cur.path.length) {
        next = first;
        break;
      }
    }
    if (next === undefined) break;
    if (next.path !== cur.path) hint = undefined;
    cur = next;
  }
  if (cur.type === ValueErrorType.ObjectAdditionalProperties) {
    const slash = cur.path.lastIndexOf("/");
    return {
      keyword: "additionalProperties",
      instancePath: cur.path.slice(0, slash),
      schemaPath: "",
      message: "must NOT have additional properties",
      params: { additionalProperty: cur.path.slice(slash + 1) },
    };
  }
  return { keyword: "typebox", instancePath: cur.path, schemaPath: "", message: hint ?? cur.message, params: {} };
}

/** A fastify validator compiler with no type coercion (see the file comment). */
export function strictValidator({ schema }: { schema: unknown }): (data: unknown) => { value: unknown } | { error: FieldError[] } {
  const check = TypeCompiler.Compile(schema as TSchema);
  return (data) => {
    if (check.Check(data)) return { value: data };
    const first = check.Errors(data).First();
    return {
      error: [
        first === undefined ? { keyword: "typebox", instancePath: "", schemaPath: "", message: "is invalid", params: {} } : explain(first),
      ],
    };
  };
}

/** Applies `patch` to `settings`: a value sets, null removes; undefined when nothing is left. */
function merge<T extends object>(settings: T | undefined, patch: { [K in keyof T]?: T[K] | null } | null | undefined): T | undefined {
  if (patch === undefined) return settings;
  if (patch === null) return undefined;
  const out: Record<string, unknown> = { ...settings };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) Reflect.deleteProperty(out, k);
    else if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : (out as T);
}

export function patchApp(record: AppRecord, body: AppPatchBody): AppRecord {
  const next: AppRecord = { ...record };
  if (body.name !== undefined) next.name = body.name;
  const limits = merge<AppLimits>(record.limits, body.limits);
  if (limits === undefined) delete next.limits;
  else
    next.limits =
      limits.allowedOrigins === undefined ? limits : { ...limits, allowedOrigins: limits.allowedOrigins.map((o) => o.toLowerCase()) };
  const retention = merge<AppRetentionSettings>(record.retention, body.retention);
  if (retention === undefined) delete next.retention;
  else next.retention = retention;
  return next;
}

/** How the admin API shows an app: every setting present, `{}` when none is set. */
export function appView(r: AppRecord): Record<string, unknown> {
  return { id: r.id, name: r.name, createdAt: r.createdAt, limits: r.limits ?? {}, retention: r.retention ?? {} };
}
