/**
 * OpenTelemetry traces (docs/OPERATIONS.md, "Reading a trace"): with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an
 * OTLP/HTTP receiver in this test, one HTTP publish with a subscriber connected gives one trace: ingest's HTTP
 * server span (a child of the caller's traceparent) → its JetStream publish span → the gateway's fan-out span (a
 * child of the traceparent JetStream's republish carried in the NATS headers), with exact parent span ids. Token
 * issuance and history reads have their spans too, under their services' names.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Subjects } from "@switchboard/core";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket } from "./helpers/ws.js";

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}
interface ExportRequest {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}
interface ReceivedSpan extends OtlpSpan {
  service: string;
  attrs: Record<string, string | number | boolean | undefined>;
}

/** OTLP span kinds (opentelemetry-proto trace.proto). */
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

function valueOf(v: OtlpAttribute["value"]): string | number | boolean | undefined {
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue;
}

/** A tiny OTLP/HTTP JSON receiver: records every span with its service name; waits resolve on arrival. */
function otlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const waiters: Array<{ pred: (s: ReceivedSpan) => boolean; resolve: (s: ReceivedSpan) => void }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      contentTypes.add(`${req.method} ${req.url} ${req.headers["content-type"]}`);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ExportRequest;
      for (const rs of body.resourceSpans) {
        const service = String(valueOf(rs.resource.attributes.find((a) => a.key === "service.name")?.value ?? {}));
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) {
            const span: ReceivedSpan = { ...s, service, attrs: Object.fromEntries(s.attributes.map((a) => [a.key, valueOf(a.value)])) };
            spans.push(span);
            for (const w of [...waiters]) {
              if (!w.pred(span)) continue;
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(span);
            }
          }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return {
    spans,
    contentTypes,
    server,
    listen: () => new Promise<number>((res) => server.listen(0, "127.0.0.1", () => res((server.address() as { port: number }).port))),
    waitFor(pred: (s: ReceivedSpan) => boolean, what: string, timeoutMs = 15_000): Promise<ReceivedSpan> {
      const hit = spans.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${what} span; received: ${JSON.stringify(spans.map((s) => [s.service, s.name]))}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
        });
      });
    },
  };
}

const receiver = otlpReceiver();
let started: Cluster | undefined;
function cluster(): Cluster {
  if (started === undefined) throw new Error("the cluster did not start");
  return started;
}

beforeAll(async () => {
  const port = await receiver.listen();
  started = await startCluster({
    services: ["auth", "publish-ingest", "fanout-gateway", "history"],
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: "50" },
  });
}, 120_000);

afterAll(async () => {
  await started?.close();
  receiver.server.close();
});

describe("traces across ingest, JetStream and the gateway", () => {
  it("one trace id crosses ingest's HTTP span, the JetStream publish span and the gateway's fan-out span", async () => {
    const token = await issueToken(cluster(), { clientId: "tracer" });
    const sock = openSocket(cluster().wsUrl(token));
    expect((await sock.request("subscribe", { room: "traced" }))["ok"]).toBe(true);

    // The caller's own trace: ingest's server span must continue it.
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpanId = "00f067aa0ba902b7";
    const res = await publishHttp(cluster(), "traced", { event: "e", data: { n: 1 } }, { traceparent: `00-${traceId}-${callerSpanId}-01` });
    expect(res.status).toBe(201);
    const { offset } = (await res.json()) as { offset: number };
    await sock.waitFor((f) => f.type === "message" && f["offset"] === offset);

    const fanout = await receiver.waitFor((s) => s.name === "fanout" && s.traceId === traceId, "fan-out");
    const publish = await receiver.waitFor((s) => s.kind === KIND.producer && s.traceId === traceId, "JetStream publish");
    const http = await receiver.waitFor((s) => s.kind === KIND.server && s.traceId === traceId, "ingest HTTP");

    expect(http).toMatchObject({
      service: "switchboard-publish-ingest",
      name: "POST /v1/rooms/:room/messages",
      parentSpanId: callerSpanId,
      attrs: { "http.request.method": "POST", "http.route": "/v1/rooms/:room/messages", "http.response.status_code": 201 },
    });
    expect(publish).toMatchObject({
      service: "switchboard-publish-ingest",
      name: "publish SB_ROOMS",
      parentSpanId: http.spanId,
      attrs: {
        "messaging.system": "nats",
        "messaging.destination.name": Subjects.room("app1", "traced"),
        "switchboard.app": "app1",
        "switchboard.room": "traced",
        "switchboard.offset": offset,
        "switchboard.duplicate": false,
      },
    });
    expect(fanout).toMatchObject({
      service: "switchboard-fanout-gateway",
      kind: KIND.consumer,
      parentSpanId: publish.spanId,
      attrs: {
        "messaging.system": "nats",
        "switchboard.app": "app1",
        "switchboard.room": "traced",
        "switchboard.offset": offset,
        "switchboard.sockets": 1,
      },
    });
    // Three distinct spans of one trace, and nothing per socket.
    expect(new Set([http.spanId, publish.spanId, fanout.spanId]).size).toBe(3);
    expect(
      receiver.spans
        .filter((s) => s.traceId === traceId)
        .map((s) => s.name)
        .sort(),
    ).toEqual(["POST /v1/rooms/:room/messages", "fanout", "publish SB_ROOMS"]);
    // Probes are not traced (startCluster polled every /readyz with tracing on).
    expect(receiver.spans.filter((s) => /\/(readyz|healthz|metrics)$/.test(s.name))).toEqual([]);
    // OTLP/HTTP with the JSON encoding, on the standard path.
    expect([...receiver.contentTypes].every((c) => c === "POST /v1/traces application/json")).toBe(true);
    sock.close();
  });

  it("token issuance and history reads have spans under their services' names", async () => {
    const issued = await receiver.waitFor((s) => s.name === "issue tokens", "token issuance");
    expect(issued).toMatchObject({
      service: "switchboard-auth",
      kind: KIND.internal,
      attrs: { "switchboard.app": "app1", "switchboard.tokens": 1 },
    });

    const res = await fetch(`${cluster().url("history")}/v1/rooms/traced/messages?limit=5`, {
      headers: { authorization: `Bearer ${cluster().devKey}` },
    });
    expect(res.status).toBe(200);
    const read = await receiver.waitFor((s) => s.name === "history read" && s.attrs["switchboard.room"] === "traced", "history read");
    expect(read).toMatchObject({
      service: "switchboard-history",
      kind: KIND.internal,
      attrs: { "switchboard.app": "app1", "switchboard.limit": 5, "switchboard.messages": 1 },
    });
  });
});
