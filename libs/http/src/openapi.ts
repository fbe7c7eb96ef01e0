/**
 * An OpenAPI 3.0 document built from the route schemas each service already validates with, served at
 * `GET /openapi.json`: the HTTP contract cannot drift from the code. Routes are collected with fastify's `onRoute`
 * hook as they are declared (synchronously, unlike a plugin registered after them); TypeBox schemas are JSON Schema,
 * so they go into the document as they are. Routes marked `schema: { hide: true }` (health, metrics) stay out.
 */
import type { FastifyInstance, RouteOptions } from "fastify";

declare module "fastify" {
  interface FastifySchema {
    /** Leave the route out of the OpenAPI document. */
    hide?: boolean;
    summary?: string;
    description?: string;
    /** A query string the handler reads itself (no validation by fastify): documented, not enforced, here. */
    documentedQuerystring?: unknown;
  }
}

interface Operation {
  method: string;
  path: string;
  schema: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Methods a route declared with `app.all()` also answers (TRACE, OPTIONS, …) are not part of the API. */
const DOCUMENTED = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/** Collects every route declared on `app` from now on and serves the document at `GET /openapi.json`. */
export function serveOpenApi(app: FastifyInstance, service: string, version: string): void {
  const ops: Operation[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    const schema = (route.schema ?? {}) as Json;
    // OpenAPI has no wildcard paths; catch-all routes (answering 404/501 for whole trees) stay out.
    if (schema["hide"] === true || route.url.includes("*")) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (DOCUMENTED.has(method)) ops.push({ method: method.toLowerCase(), path: route.url, schema });
  });
  let doc: Json | undefined;
  app.get("/openapi.json", { schema: { hide: true } }, async () => (doc ??= openApiDocument(service, version, ops)));
}

export function openApiDocument(service: string, version: string, ops: readonly Operation[]): Json {
  const paths: Record<string, Json> = {};
  for (const op of ops) {
    const path = op.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    (paths[path] ??= {})[op.method] = operation(op);
  }
  return {
    openapi: "3.0.3",
    info: {
      title: `Switchboard ${service}`,
      version,
      description: 'Errors are {"error":{"code","message","details?"}} (docs/PROTOCOL.md).',
    },
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "appId.keyId:secret, or Basic base64(appId.keyId:secret)" },
      },
    },
  };
}

function operation(op: Operation): Json {
  const s = op.schema;
  const parameters = [...params(s["params"], "path"), ...params(s["querystring"] ?? s["documentedQuerystring"], "query")];
  const out: Json = {
    operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
  };
  if (typeof s["summary"] === "string") out["summary"] = s["summary"];
  if (typeof s["description"] === "string") out["description"] = s["description"];
  if (parameters.length > 0) out["parameters"] = parameters;
  if (s["body"] !== undefined) out["requestBody"] = { required: true, content: { "application/json": { schema: clean(s["body"]) } } };
  const responses: Json = {};
  const response = s["response"];
  if (typeof response === "object" && response !== null)
    for (const [status, schema] of Object.entries(response as Json))
      responses[status] = { description: status, content: { "application/json": { schema: clean(schema) } } };
  responses["default"] = { description: "an error: {error: {code, message, details?}}" };
  out["responses"] = responses;
  return out;
}

function params(schema: unknown, where: "path" | "query"): Json[] {
  if (typeof schema !== "object" || schema === null) return [];
  const s = schema as Json;
  const properties = (s["properties"] ?? {}) as Json;
  const required = new Set((s["required"] ?? []) as string[]);
  return Object.entries(properties).map(([name, p]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    schema: clean(p),
  }));
}

/** A JSON copy of a schema (drops TypeBox's symbol keys; OpenAPI 3.0 has no `const`, so it becomes a one-value enum). */
function clean(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema), (_k, v: unknown) => {
    if (typeof v === "object" && v !== null && !Array.isArray(v) && "const" in v) {
      const { const: c, ...rest } = v as Json;
      return { ...rest, enum: [c] };
    }
    return v;
  });
}
