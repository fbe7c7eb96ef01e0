/**
 * Per-room chat limits for IVS chat sockets (docs/VENDORS.md): a room's `maximumMessageLength` and
 * `maximumMessageRatePerSecond`, set by IVS CreateRoom / UpdateRoom on auth in the room-settings bucket. A room's
 * state is read once when its first IVS socket opens on this gateway and is then kept current by a watch of the
 * bucket, in place: sockets hold the same object, so an UpdateRoom reaches sockets already open within the watch's
 * delivery time (milliseconds; the contract allows 5 s). The rate bucket is per room on this gateway.
 */
import { ROOM_CHAT_LIMITS, type RoomChatLimits } from "@switchboard/protocol";
import { KvKeys, followBucket, hasValue, takeOne, type Bucket, type KV, type Logger } from "@switchboard/core";

/** A room's limits as they are now, and its SEND_MESSAGE bucket on this gateway. */
export interface RoomChat extends RoomChatLimits {
  bucket: Bucket;
}

const decoder = new TextDecoder();
const MAX_CACHED_ROOMS = 100_000;

function inBounds(v: unknown, b: { min: number; max: number; default: number }): number {
  return typeof v === "number" && Number.isInteger(v) && v >= b.min && v <= b.max ? v : b.default;
}

/** The limits of a stored room record (IVS defaults for anything missing or out of bounds, and for no record). */
export function roomChatLimitsOf(value: Uint8Array | undefined): RoomChatLimits {
  let rec: Partial<Record<keyof RoomChatLimits, unknown>> = {};
  if (value !== undefined) {
    try {
      rec = JSON.parse(decoder.decode(value)) as typeof rec;
    } catch {
      rec = {};
    }
  }
  return {
    maximumMessageLength: inBounds(rec.maximumMessageLength, ROOM_CHAT_LIMITS.maximumMessageLength),
    maximumMessageRatePerSecond: inBounds(rec.maximumMessageRatePerSecond, ROOM_CHAT_LIMITS.maximumMessageRatePerSecond),
  };
}

/** Takes one SEND_MESSAGE from the room's bucket; false when the room is over its rate. */
export function takeRoomMessage(c: RoomChat, now: number): boolean {
  return takeOne(c.bucket, c.maximumMessageRatePerSecond, c.maximumMessageRatePerSecond, now);
}

export class RoomChatRegistry {
  /** By room-settings key. */
  private readonly rooms = new Map<string, RoomChat>();

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Follows changes to rooms already known here until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await followBucket(this.kv, signal, this.log, "room settings", (e) => {
      const known = this.rooms.get(e.key);
      if (known !== undefined) Object.assign(known, roomChatLimitsOf(e.operation === "PUT" ? e.value : undefined));
    });
  }

  /** The live state of a room (read from the bucket the first time). Throws when the bucket cannot be read. */
  async get(app: string, room: string): Promise<RoomChat> {
    const key = KvKeys.roomSettings(app, room);
    const hit = this.rooms.get(key);
    if (hit !== undefined) return hit;
    const e = await this.kv.get(key);
    const again = this.rooms.get(key);
    if (again !== undefined) return again;
    const limits = roomChatLimitsOf(hasValue(e) ? e.value : undefined);
    const state: RoomChat = { ...limits, bucket: { tokens: limits.maximumMessageRatePerSecond, at: Date.now() } };
    if (this.rooms.size >= MAX_CACHED_ROOMS) this.rooms.clear();
    this.rooms.set(key, state);
    return state;
  }
}
