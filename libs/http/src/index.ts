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
import type { Registry } from "prom-client";
import { SwitchboardError } from "@switchboard/protocol";
import { httpMetrics, redactUrl, type Logger } from "@switchboard/core";

export interface HttpServiceOptions {
  service: string;
  log: Logger;
  registry: Registry;
  /** Whether NATS is connected and the service's streams/buckets are ready. */
  ready: () => boolean;
  /** Largest request body in bytes (fastify default 1 MiB). */
  bodyLimit?: number;
}

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
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    // Per-request lines would dominate the log and cost the hot path; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
    ajv: { customOptions: { allErrors: false, coerceTypes: "array", removeAdditional: false } },
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

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) =>
    opts.ready()
      ? { status: "ready" }
      : sendError(reply, new SwitchboardError("unavailable", "not ready: NATS or JetStream is not available yet", { retryAfter: 1 })),
  );
  app.get("/metrics", async (_req, reply) => {
    const text = await opts.registry.metrics();
    return reply.header("content-type", opts.registry.contentType).send(text);
  });
  return app;
}

function mapFastifyError(error: FastifyError): SwitchboardError {
  if (error.validation !== undefined) {
    const v = error.validation[0];
    const field = v === undefined ? "" : fieldOf(v.instancePath, v.params as Record<string, unknown>);
    const where = error.validationContext ?? "body";
    const message = v === undefined ? error.message : `${where}${field}: ${v.message ?? "is invalid"}`;
    return new SwitchboardError("bad_request", message, { details: error.validation, cause: error });
  }
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new SwitchboardError("too_large", "request body is too large", { cause: error });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new SwitchboardError("bad_request", "send the body as application/json", { status: 415, cause: error });
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
