/**
 * The gateway's plain HTTP routes on its uWS app (libs/http is fastify, which the gateway does not run): liveness,
 * readiness (503 while NATS is not ready or while draining), Prometheus metrics, the demo page, and a JSON 404 for
 * anything else; and the JSON error answers of a refused upgrade. Bodies are built through SwitchboardError.
 */
import { SwitchboardError } from "@switchboard/protocol";
import type { Registry } from "prom-client";
import { registerDemo } from "./demo.js";
import type { HttpResponse, TemplatedApp } from "./uws.js";

/** `{"error":{code,message}}`, the body of every error answer (libs/http's errorBody shape). */
export function errorJson(err: SwitchboardError): string {
  return JSON.stringify({ error: err.toJSON() });
}

/** Answers with the error's status and body; 503 and 429 carry Retry-After (1 s unless the error says otherwise). */
export function writeError(res: HttpResponse, err: SwitchboardError, statusText: string): void {
  res.writeStatus(`${err.status} ${statusText}`);
  if (err.status === 503 || err.status === 429) res.writeHeader("retry-after", String(err.retryAfter ?? 1));
  res.writeHeader("content-type", "application/json").end(errorJson(err));
}

export interface HttpRoutesOptions {
  /** NATS ready and not draining. */
  ready(): boolean;
  registry: Registry;
}

/** Registers the routes; call after the WebSocket route so that the 404 catches only what is left. */
export function registerHttpRoutes(app: TemplatedApp, o: HttpRoutesOptions): void {
  registerDemo(app);
  app.get("/healthz", (res) => {
    res.writeHeader("content-type", "application/json").end('{"status":"ok"}');
  });
  app.get("/readyz", (res) => {
    if (o.ready()) res.writeHeader("content-type", "application/json").end('{"status":"ready"}');
    else
      writeError(
        res,
        new SwitchboardError("unavailable", "not ready: NATS or JetStream is not available yet, or draining"),
        "Service Unavailable",
      );
  });
  app.get("/metrics", (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void o.registry.metrics().then((text) => {
      if (!aborted) res.cork(() => res.writeHeader("content-type", o.registry.contentType).end(text));
    });
  });
  app.any("/*", (res, req) => {
    const err = new SwitchboardError("not_found", `no route ${req.getMethod().toUpperCase()} ${req.getUrl()}`);
    res.writeStatus("404 Not Found").writeHeader("content-type", "application/json").end(errorJson(err));
  });
}
