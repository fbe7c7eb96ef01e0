/**
 * publish-ingest routes (DESIGN §6). A publish answers 201 `{id, offset}` only after JetStream acknowledged the
 * store; any failure to store is a 503 with Retry-After, never a 2xx.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { SwitchboardError, assertRoom, messageIdFromOffset, type PublishResult } from "@switchboard/protocol";
import {
  HEADER_MSG_ID,
  HEADER_TRACEPARENT,
  Subjects,
  MAX_DATA_BYTES,
  encodeBody,
  encodeData,
  type KeyRegistry,
  type NatsRuntime,
  type ingestMetrics,
} from "@switchboard/core";
import { authorizationOf } from "@switchboard/http";

export const STORE_TIMEOUT_MS = 2000;

export interface IngestDeps {
  js: JetStreamClient;
  keys: KeyRegistry;
}

export interface IngestOptions {
  nats: NatsRuntime<IngestDeps>;
  metrics: ReturnType<typeof ingestMetrics>;
}

const RoomParams = Type.Object({ room: Type.String({ minLength: 1, maxLength: 1024 }) });
const PublishBody = Type.Object(
  {
    event: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_\\-:.]+$" }),
    data: Type.Optional(Type.Unknown()),
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
type PublishBody = Static<typeof PublishBody>;

export interface StoreRequest {
  app: string;
  room: string;
  event: string;
  data: unknown;
  clientId?: string | undefined;
  idempotencyKey?: string | undefined;
  traceparent?: string | undefined;
}

/** Stores one message in JetStream; resolves with its id and offset once stored. */
export async function storeMessage(opts: IngestOptions, req: StoreRequest): Promise<PublishResult> {
  const body = encodeBody({
    event: req.event,
    dataJson: encodeData(req.data),
    timestamp: Date.now(),
    ...(req.clientId !== undefined ? { clientId: req.clientId } : {}),
  });
  const { js } = opts.nats.get();
  const h = req.traceparent !== undefined ? natsHeaders() : undefined;
  if (h !== undefined && req.traceparent !== undefined) h.set(HEADER_TRACEPARENT, req.traceparent);
  const started = performance.now();
  try {
    const ack = await js.publish(Subjects.room(req.app, req.room), body, {
      timeout: STORE_TIMEOUT_MS,
      ...(req.idempotencyKey !== undefined ? { msgID: `${req.app}:${req.idempotencyKey}` } : {}),
      ...(h !== undefined ? { headers: h } : {}),
    });
    opts.metrics.storeLatency.observe((performance.now() - started) / 1000);
    opts.metrics.published.inc({ result: ack.duplicate ? "duplicate" : "stored" });
    return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
  } catch (err) {
    opts.metrics.published.inc({ result: "failed" });
    throw new SwitchboardError("unavailable", "JetStream could not store the message; retry", {
      retryAfter: 1,
      cause: err,
    });
  }
}

export async function ingestRoutes(app: FastifyInstance, opts: IngestOptions): Promise<void> {
  app.post<{ Params: Static<typeof RoomParams>; Body: PublishBody }>(
    "/v1/rooms/:room/messages",
    { schema: { params: RoomParams, body: PublishBody }, bodyLimit: MAX_DATA_BYTES + 4096 },
    async (req, reply) => {
      const room = assertRoom(req.params.room);
      const key = await opts.nats.get().keys.authenticate(authorizationOf(req));
      const headerKey = req.headers["idempotency-key"];
      const idempotencyKey = req.body.idempotencyKey ?? (typeof headerKey === "string" ? headerKey : undefined);
      const traceparent = req.headers[HEADER_TRACEPARENT];
      const result = await storeMessage(opts, {
        app: key.appId,
        room,
        event: req.body.event,
        data: req.body.data,
        clientId: req.body.clientId,
        idempotencyKey,
        traceparent: typeof traceparent === "string" ? traceparent : undefined,
      });
      return reply.status(201).send(result);
    },
  );
}
