/**
 * Errors of the vendor surfaces. Each vendor answers failures in its own wire format (vendor's status, body and
 * headers), so its own client library raises the error type it expects. Route code throws `VendorError` (or lets a
 * SwitchboardError from the shared session, token and moderation code through); `vendorScope` turns either into
 * the vendor's format and counts it by a bounded reason.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SwitchboardError, type ErrorCode } from "@switchboard/protocol";
import { redactUrl, type Logger } from "@switchboard/core";
import type { AuthMetrics, Vendor, VendorFailureReason } from "../metrics.js";

export class VendorError extends Error {
  override readonly name = "VendorError";

  constructor(
    readonly status: number,
    readonly reason: VendorFailureReason,
    message: string,
    /** Vendor-specific members of the error (IVS `fieldList`, `resourceType`, …), or its error type name. */
    readonly extra: { type?: string; fields?: Record<string, unknown>; retryAfter?: number } = {},
  ) {
    super(message);
  }
}

const REASON_OF_CODE: Partial<Record<ErrorCode, VendorFailureReason>> = {
  bad_request: "bad_request",
  invalid_room: "bad_request",
  too_large: "bad_request",
  unauthorized: "unauthorized",
  not_found: "not_found",
  conflict: "conflict",
  rate_limited: "rate_limited",
  unavailable: "unavailable",
};

/** Any failure as a VendorError: shared-code SwitchboardErrors keep status and message, schema errors are 400. */
export function asVendorError(err: unknown): VendorError {
  if (err instanceof VendorError) return err;
  if (err instanceof SwitchboardError) {
    const reason = err.status === 403 ? "forbidden" : (REASON_OF_CODE[err.code] ?? "internal");
    return new VendorError(err.status, reason, err.message, err.retryAfter !== undefined ? { retryAfter: err.retryAfter } : {});
  }
  const fe = err as Partial<FastifyError>;
  if (fe.validation !== undefined) {
    const v = fe.validation[0];
    const params: Record<string, unknown> = v?.params ?? {};
    const where = `${fe.validationContext ?? "body"}${(v?.instancePath ?? "").replace(/\//g, ".")}`;
    const field =
      typeof params["missingProperty"] === "string"
        ? `${where}.${params["missingProperty"]}`
        : typeof params["additionalProperty"] === "string"
          ? `${where}.${params["additionalProperty"]}`
          : where;
    const message =
      typeof params["additionalProperty"] === "string" ? `${field} is not allowed` : `${field}: ${v?.message ?? "is invalid"}`;
    return new VendorError(400, "bad_request", message, { fields: { field } });
  }
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") return new VendorError(413, "bad_request", "request body is too large");
  if (err instanceof SyntaxError || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return new VendorError(400, "bad_request", `request body is not valid JSON${err instanceof Error ? `: ${err.message}` : ""}`);
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return new VendorError(status, "bad_request", fe.message ?? "bad request");
  return new VendorError(500, "internal", "internal error");
}

export interface VendorScopeOptions {
  vendor: Vendor;
  metrics: AuthMetrics;
  log: Logger;
  /** Sends `err` in the vendor's format. */
  send(reply: FastifyReply, err: VendorError, req: FastifyRequest): FastifyReply;
}

/**
 * Makes `app` (an encapsulated plugin instance) a vendor surface: its errors and unknown routes answered in the
 * vendor's format, requests and failures counted, form bodies accepted (OpenVidu's client sends
 * `content-type: application/x-www-form-urlencoded` on bodiless DELETEs; OpenTok creates sessions with a form).
 */
export function vendorScope(app: FastifyInstance, o: VendorScopeOptions): void {
  const requests = o.metrics.vendorRequests.labels(o.vendor);
  app.addHook("onRequest", (_req, _reply, done) => {
    requests.inc();
    done();
  });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.setErrorHandler((error: unknown, req, reply) => {
    const e = asVendorError(error);
    if (e.status >= 500 && e.reason === "internal") req.log.error({ err: error, url: redactUrl(req.url) }, "vendor request failed");
    o.metrics.vendorFailures.inc({ vendor: o.vendor, reason: e.reason });
    if (e.extra.retryAfter !== undefined) void reply.header("retry-after", String(e.extra.retryAfter));
    return o.send(reply, e, req);
  });
}

/** A 404 for an unknown route under a vendor prefix, in the vendor's format. */
export function notFoundRoute(req: FastifyRequest): VendorError {
  return new VendorError(404, "not_found", `no route ${req.method} ${redactUrl(req.url).split("?")[0]}`);
}
