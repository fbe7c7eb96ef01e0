/**
 * Helpers for the publish-ingest tests: HTTP calls with an API key, and a NATS client on the cluster's server to
 * read what the rooms stream really holds (subject, body, headers) and to stand in for gateways on control subjects.
 */
import { createLogger, connectNats, jetstreamManager, STREAM_ROOMS, type JetStreamManager, type NatsConnection } from "@switchboard/core";
import type { Cluster } from "./cluster.js";

export interface StreamReader {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** The stored message at `seq` (subject, parsed body, headers), or null when there is none. */
  at(seq: number): Promise<{ subject: string; body: Record<string, unknown>; header(name: string): string } | null>;
  /** How many messages the stream holds on `subject`. */
  count(subject: string): Promise<number>;
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

export async function openStreamReader(cluster: Cluster): Promise<StreamReader> {
  const nc = await connectNats(
    { servers: [cluster.nats.url], name: "ingest-test", log: createLogger("ingest-test", "silent") },
    new AbortController().signal,
  );
  const jsm = await jetstreamManager(nc);
  return {
    nc,
    jsm,
    at: async (seq) => {
      const m = await jsm.streams.getMessage(STREAM_ROOMS, { seq });
      if (m === null) return null;
      return {
        subject: m.subject,
        body: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
        header: (name) => m.header?.get(name) ?? "",
      };
    },
    count: async (subject) => {
      const info = await jsm.streams.info(STREAM_ROOMS, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    },
    lastSeq: async () => (await jsm.streams.info(STREAM_ROOMS)).state.last_seq,
    close: () => nc.close(),
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Sends `body` as JSON to publish-ingest (`service` picks another ingest copy) with the dev key unless `auth` is given. */
export async function ingest(
  cluster: Cluster,
  method: string,
  path: string,
  body?: unknown,
  opts: { auth?: string | null; headers?: Record<string, string>; service?: string; raw?: string } = {},
): Promise<JsonResponse> {
  const base = opts.service !== undefined ? (cluster.services.get(opts.service)?.url ?? "") : cluster.url("publish-ingest");
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.auth === undefined ? `Bearer ${cluster.devKey}` : opts.auth;
  if (auth !== null) headers["authorization"] = auth;
  if (body !== undefined || opts.raw !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
