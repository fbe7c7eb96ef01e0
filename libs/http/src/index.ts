/**
 * The HTTP shell shared by auth, publish-ingest and history (fastify 5): health, readiness and metrics routes,
 * the contract's error body `{"error":{"code","message","details?"}}` for every failure, per-route metrics, and
 * API-key / token authentication helpers.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Socket } from "node:net";
import { Ajv, type Options as AjvOptions } from "ajv";
import type { Registry } from "prom-client";
import { SwitchboardError, parseStrictJson, unavailable } from "@switchboard/protocol";
import { httpMetrics, redactUrl, type Logger } from "@switchboard/core";
import { serveOpenApi } from "./openapi.js";

export { openApiDocument } from "./openapi.js";

export interface HttpServiceOptions {
  service: string;
  log: Logger;
  registry: Registry;
  /** Whether NATS is connected and the service's streams/buckets are ready. */
  ready: () => boolean;
  /** Largest request body in bytes (fastify default 1 MiB). */
  bodyLimit?: number;
  /** Time a client has to send a whole request, headers and body (slow clients get 408). Default 15 s. */
  requestTimeoutMs?: number;
}

/** Version of the HTTP API in each service's OpenAPI document (`GET /openapi.json`). */
export const API_VERSION = "1.0.0";

/** Default time for a whole request to arrive: 1 MiB at under 70 KB/s still makes it; a slow-body attack does not. */
export const REQUEST_TIMEOUT_MS = 15_000;
/**
 * Longest path parameter. A room name is at most 128 characters but may arrive percent-encoded (up to 3 bytes a
 * character, 4 for astral characters); longer values get the contract's error from the route schema, not a 414.
 */
const MAX_PARAM_LENGTH = 2048;

/**
 * Request bodies are validated without coercion (`{"event": 5}` is refused, not stored as "5"); path, query and
 * headers arrive as strings and are coerced to the schema's types (`?limit=10`).
 */
const AJV_BASE: AjvOptions = { allErrors: false, removeAdditional: false, useDefaults: true };

/** The contract's error body: `{"error": {"code","message","details?"}}`, always SwitchboardError's own JSON. */
export function errorBody(err: SwitchboardError): { error: ReturnType<SwitchboardError["toJSON"]> } {
  return { error: err.toJSON() };
}

export function sendError(reply: FastifyReply, err: SwitchboardError): FastifyReply {
  if (err.retryAfter !== undefined) void reply.header("retry-after", String(err.retryAfter));
  return reply.status(err.status).send(errorBody(err));
}

/** Builds the fastify instance with the shared routes and error handling; services register their routes on it. */
export function createHttpService(opts: HttpServiceOptions): FastifyInstance {
  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app = Fastify({
    // The cast keeps the instance typed with fastify's logger interface (pino's Logger would leak into every route type).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: opts.log as FastifyBaseLogger,
    // Per-request lines would dominate the log and cost the hot path; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
    requestTimeout,
    // Node reads the timeout only from the server's constructor options (fastify sets it later, too late), and
    // checks it every 30 s by default, which would let a slow client hold a request 45 s.
    http: { requestTimeout, connectionsCheckingInterval: 1000 },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler: clientError,
    // The router's own refusals (a path parameter past maxParamLength, a malformed percent escape) get the contract's
    // body too; fastify's default is its own JSON shape.
    frameworkErrors: (error, _req, reply) => {
      void sendError(reply, mapFastifyError(error));
    },
  });
  const bodyAjv = new Ajv({ ...AJV_BASE, coerceTypes: false });
  const stringAjv = new Ajv({ ...AJV_BASE, coerceTypes: "array" });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === "body" ? bodyAjv : stringAjv).compile(schema));
  // One reader for every body, JSON only (anything else is 415): duplicate keys, prototype keys, deep nesting and overflowing numbers refused.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      if (body === "") throw new SwitchboardError("bad_request", "request body is empty; send a JSON object");
      done(null, parseStrictJson(body as string));
    } catch (err) {
      done(err as SwitchboardError, undefined);
    }
  });
  const metrics = httpMetrics(opts.registry, opts.service);

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | SwitchboardError, req, reply) => {
    if (error instanceof SwitchboardError) {
      if (error.status >= 500) req.log.error({ err: error, url: redactUrl(req.url) }, error.message);
      return sendError(reply, error);
    }
    const mapped = mapFastifyError(error);
    if (mapped.status >= 500) req.log.error({ err: error, url: redactUrl(req.url) }, "request failed");
    return sendError(reply, mapped);
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new SwitchboardError("not_found", `no route ${req.method} ${redactUrl(req.url).split("?")[0]}`)),
  );

  // Before any route, so that the document sees every route the service declares.
  serveOpenApi(app, opts.service, API_VERSION);
  const hide = { schema: { hide: true } };
  app.get("/healthz", hide, async () => ({ status: "ok" }));
  app.get("/readyz", hide, async (_req, reply) =>
    opts.ready() ? { status: "ready" } : sendError(reply, unavailable("not ready: NATS or JetStream is not available yet")),
  );
  app.get("/metrics", hide, async (_req, reply) => {
    const text = await opts.registry.metrics();
    return reply.header("content-type", opts.registry.contentType).send(text);
  });
  return app;
}

/**
 * Failures before a request reaches fastify (a request that did not arrive in time, headers too large, bytes that
 * are not HTTP) still answer with the contract's error body.
 */
function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, reason, error] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "Request Timeout", new SwitchboardError("bad_request", "the request did not arrive in time; send it faster", { status: 408 })]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", new SwitchboardError("too_large", "request headers are too large", { status: 431 })]
        : [400, "Bad Request", new SwitchboardError("bad_request", "the request is not valid HTTP/1.1")];
  const body = JSON.stringify(errorBody(error));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy();
}

function mapFastifyError(error: FastifyError): SwitchboardError {
  if (error.validation !== undefined) {
    const v = error.validation[0];
    const field = v === undefined ? "" : fieldOf(v.instancePath, v.params);
    const where = error.validationContext ?? "body";
    const message = v === undefined ? error.message : `${where}${field}: ${v.message ?? "is invalid"}`;
    return new SwitchboardError("bad_request", message, { details: error.validation, cause: error });
  }
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new SwitchboardError("too_large", "request body is too large", { cause: error });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new SwitchboardError("bad_request", "send the body as application/json", { status: 415, cause: error });
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new SwitchboardError(
        "bad_request",
        `a path parameter is over ${MAX_PARAM_LENGTH} characters (room names are at most 128); shorten it`,
        { status: 414, cause: error },
      );
    case "FST_ERR_BAD_URL":
      return new SwitchboardError("bad_request", "the URL has a malformed percent escape; encode it with encodeURIComponent", {
        cause: error,
      });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new SwitchboardError("bad_request", "request body is empty; send a JSON object", { cause: error });
    default:
      break;
  }
  if (error instanceof SyntaxError || error.code === "FST_ERR_CTP_INVALID_JSON_BODY")
    return new SwitchboardError("bad_request", `request body is not valid JSON: ${error.message}`, { cause: error });
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new SwitchboardError("bad_request", error.message, { status, cause: error });
  return new SwitchboardError("internal", "internal error", { cause: error });
}

function fieldOf(instancePath: string, params: Record<string, unknown>): string {
  const path = instancePath.replace(/\//g, ".");
  const missing = params["missingProperty"];
  const extra = params["additionalProperty"];
  if (typeof missing === "string") return `${path}.${missing} is required;`.replace(/;$/, "");
  if (typeof extra === "string") return `${path}.${extra} is not allowed;`.replace(/;$/, "");
  return path;
}

/** Reads the Authorization header (undefined when absent or repeated). */
export function authorizationOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  return typeof h === "string" ? h : undefined;
}

export * from "./params.js";
