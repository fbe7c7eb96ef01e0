/**
 * IVS Chat rooms: one record per room in the room-settings bucket (KvKeys.roomSettings), holding the limits the
 * gateway applies to IVS sockets of that room (maximumMessageLength, maximumMessageRatePerSecond) and the rest of
 * what CreateRoom/UpdateRoom were given. The room's id is the Switchboard room name; its ARN is built from the
 * signing region and an account number derived from the app id.
 */
import { createHash, randomInt } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { ROOM_CHAT_LIMITS } from "@switchboard/protocol";
import { KvKeys, isWrongLastSequence, hasValue } from "@switchboard/core";

/** IVS Chat's bounds and defaults for a room's limits (libs/protocol limits.ts; the gateway reads the same). */
export const ROOM_LIMITS = ROOM_CHAT_LIMITS;

export interface IvsRoomRecord {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  maximumMessageLength: number;
  maximumMessageRatePerSecond: number;
  tags: Record<string, string>;
}

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A room id shaped like IVS's: 12 letters and digits. */
export function newRoomId(): string {
  let id = "";
  for (let i = 0; i < 12; i++) id += ID_ALPHABET.charAt(randomInt(ID_ALPHABET.length));
  return id;
}

/** A stable 12-digit "account" for an app, so its ARNs look like AWS's and differ between apps. */
export function accountOf(appId: string): string {
  const n = createHash("sha256").update(appId).digest().readBigUInt64BE(0) % 1_000_000_000_000n;
  return n.toString().padStart(12, "0");
}

export function roomArn(region: string, appId: string, id: string): string {
  return `arn:aws:ivschat:${region}:${accountOf(appId)}:room/${id}`;
}

const ARN_RE = /^arn:aws:ivschat:([a-z0-9-]+):(\d{12}):room\/([A-Za-z0-9]{1,128})$/;
const ID_RE = /^[A-Za-z0-9]{1,128}$/;

/** The room id of an identifier (ARN or bare id) of this app; undefined when it cannot name one of its rooms. */
export function roomIdOf(identifier: string, appId: string): string | undefined {
  const m = ARN_RE.exec(identifier);
  if (m !== null) return m[2] === accountOf(appId) ? m[3] : undefined;
  return ID_RE.test(identifier) ? identifier : undefined;
}

export class IvsRooms {
  constructor(private readonly kv: KV) {}

  async create(appId: string, r: IvsRoomRecord): Promise<void> {
    await this.kv.create(KvKeys.roomSettings(appId, r.id), JSON.stringify(r));
  }

  async get(appId: string, id: string): Promise<{ room: IvsRoomRecord; revision: number } | undefined> {
    const e = await this.kv.get(KvKeys.roomSettings(appId, id));
    return !hasValue(e) ? undefined : { room: e.json<IvsRoomRecord>(), revision: e.revision };
  }

  /** Replaces the record if unchanged since `revision`; false when it changed meanwhile. */
  async update(appId: string, r: IvsRoomRecord, revision: number): Promise<boolean> {
    try {
      await this.kv.update(KvKeys.roomSettings(appId, r.id), JSON.stringify(r), revision);
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  async remove(appId: string, id: string): Promise<void> {
    await this.kv.purge(KvKeys.roomSettings(appId, id));
  }

  /** The app's rooms, oldest first. */
  async list(appId: string): Promise<IvsRoomRecord[]> {
    const out: IvsRoomRecord[] = [];
    for await (const k of await this.kv.keys(KvKeys.roomSettingsOfApp(appId))) {
      const e = await this.kv.get(k);
      if (hasValue(e)) out.push(e.json<IvsRoomRecord>());
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }
}
