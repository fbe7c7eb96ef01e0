/**
 * Presence members in the presence bucket: the record a gateway writes for each member, and reading a room's
 * members (gateways and history read them). One ephemeral consumer over the room's keys, last value per key, so a room costs one scan however many
 * gateways hold its members. Works on nats-server 2.9 (single `filter_subject`) and 2.11+.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { addEphemeralConsumer, deleteEphemeralConsumer } from "./consumers.js";
import type { Logger } from "./logger.js";
import { Buckets, KvKeys } from "./subjects.js";

/**
 * A presence member as stored in the presence bucket under KvKeys.presence(app, room, connectionId); the gateway
 * that holds the socket re-puts it before the bucket TTL (PRESENCE_TTL_MS) runs out, so a dead gateway's members
 * disappear on their own.
 */
export interface PresenceRecord {
  clientId: string;
  connectionId: string;
  data: unknown;
  joinedAt: number;
}

const PRESENCE_STREAM = `KV_${Buckets.presence}`;
const KV_OPERATION = "KV-Operation";
const FETCH_EXPIRES_MS = 2000;
const decoder = new TextDecoder();

/** Every member of a room (all gateways), oldest join first. */
export async function readPresence(
  js: JetStreamClient,
  jsm: JetStreamManager,
  app: string,
  room: string,
  log: Logger,
): Promise<PresenceRecord[]> {
  const ci = await addEphemeralConsumer(
    jsm,
    PRESENCE_STREAM,
    `$KV.${Buckets.presence}.${KvKeys.presenceOfRoom(app, room)}`,
    "last_per_subject",
  );
  const members: PresenceRecord[] = [];
  try {
    let pending = ci.num_pending;
    const consumer = js.consumers.getConsumerFromInfo(ci);
    while (pending > 0) {
      const iter = await consumer.fetch({ max_messages: Math.min(pending, 256), expires: FETCH_EXPIRES_MS });
      let got = 0;
      for await (const m of iter as AsyncIterable<JsMsg>) {
        got++;
        pending = m.info.pending;
        const op = m.headers?.get(KV_OPERATION);
        if (op !== "DEL" && op !== "PURGE" && m.data.length > 0) {
          try {
            const r = JSON.parse(decoder.decode(m.data)) as PresenceRecord;
            members.push({ clientId: r.clientId, connectionId: r.connectionId, data: r.data, joinedAt: r.joinedAt });
          } catch {
            log.warn({ app }, "unreadable presence record ignored");
          }
        }
        if (pending === 0) break;
      }
      if (got === 0) break;
    }
  } finally {
    await deleteEphemeralConsumer(jsm, PRESENCE_STREAM, ci.name);
  }
  return members.sort((a, b) => a.joinedAt - b.joinedAt || (a.connectionId < b.connectionId ? -1 : 1));
}
