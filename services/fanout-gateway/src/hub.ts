/**
 * The room hub: every room with a live subscription on this gateway, by key, with a reference per socket
 * subscription (in flight or complete). A room's live NATS subject is subscribed while it has a reference and
 * dropped with the last one. The hub knows nothing of frames, sockets or wire protocols: a room hands each message
 * in order to its `deliver` sink (layer.ts encodes it once per room and publishes it to the room's uWS topics).
 */
import { Room, type RoomDeps } from "./rooms.js";
import { topicAll } from "./topics.js";

export class RoomHub {
  private readonly rooms = new Map<string, Room>();

  constructor(private readonly deps: RoomDeps) {}

  /** Rooms with a live subscription. */
  get size(): number {
    return this.rooms.size;
  }

  get(app: string, room: string): Room | undefined {
    return this.rooms.get(topicAll(app, room));
  }

  /** Takes a reference on the room, subscribing its live subject if it is new. */
  acquire(app: string, room: string): Room {
    const key = topicAll(app, room);
    let r = this.rooms.get(key);
    if (r === undefined) {
      r = new Room(app, room, this.deps);
      this.rooms.set(key, r);
    }
    r.refs++;
    return r;
  }

  /** Drops a reference; the last one ends the room's live subscription. */
  release(r: Room): void {
    r.refs--;
    if (r.refs <= 0) {
      r.close();
      this.rooms.delete(r.key);
    }
  }

  all(): IterableIterator<Room> {
    return this.rooms.values();
  }

  /**
   * Catches every room up from history (Room.catchUp), `concurrency` rooms at a time so that a reconnect of a
   * gateway serving many rooms does not send all their reads at once. Resolves with the rooms and messages read back.
   */
  async catchUp(concurrency: number): Promise<{ rooms: number; messages: number }> {
    const queue = [...this.rooms.values()];
    let messages = 0;
    const worker = async () => {
      for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
        // Not `messages += await …`: that reads `messages` before the await and loses the other workers' counts.
        const read = await r.catchUp();
        messages += read;
      }
    };
    const rooms = queue.length;
    await Promise.all(Array.from({ length: Math.min(concurrency, rooms) }, worker));
    return { rooms, messages };
  }
}
