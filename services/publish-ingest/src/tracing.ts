/**
 * Ingest's HTTP server spans (docs/OPERATIONS.md, "Reading a trace"): installed only when tracing is on. Each request
 * gets a server span, a child of the caller's W3C `traceparent` when it sends one; the handlers hand it to
 * storeMessage, whose JetStream publish span is its child.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HEADER_TRACEPARENT, SpanKind, endSpan, parseTraceparent, startSpan, type Span } from "@switchboard/core";

const spans = new WeakMap<FastifyRequest, Span>();
/** Probes and scrapes: frequent, and nothing to follow. */
const UNTRACED = new Set(["/metrics", "/healthz", "/readyz"]);

/** The request's server span (undefined when tracing is off). */
export function requestSpan(req: FastifyRequest): Span | undefined {
  return spans.get(req);
}

export function traceRequests(app: FastifyInstance): void {
  app.addHook("onRequest", (req, _reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    if (UNTRACED.has(route)) {
      done();
      return;
    }
    const span = startSpan(`${req.method} ${route}`, SpanKind.SERVER, parseTraceparent(req.headers[HEADER_TRACEPARENT]), {
      "http.request.method": req.method,
      "http.route": route,
    });
    if (span !== undefined) spans.set(req, span);
    done();
  });
  app.addHook("onResponse", (req, reply, done) => {
    const span = spans.get(req);
    if (span !== undefined) {
      span.setAttribute("http.response.status_code", reply.statusCode);
      endSpan(span, reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined);
    }
    done();
  });
}
