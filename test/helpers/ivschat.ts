/**
 * The real `amazon-ivs-chat-messaging` client in Node for the IVS chat socket tests: `ws` is its global WebSocket
 * (Node 20 has none), its console logging is silenced, and what the room emits is recorded so that a test can wait
 * for it without sleeping.
 */
import WebSocket from "ws";
import { ChatRoom } from "amazon-ivs-chat-messaging";
import type { ChatMessage, ChatEvent, DeleteMessageEvent, DisconnectUserEvent, DisconnectReason } from "amazon-ivs-chat-messaging";

const g = globalThis as { WebSocket?: unknown };
g.WebSocket ??= WebSocket;

export interface ChatToken {
  token: string;
  sessionExpirationTime?: Date | string;
  tokenExpirationTime?: Date | string;
}

export type Recorded =
  | { kind: "message"; message: ChatMessage }
  | { kind: "event"; event: ChatEvent }
  | { kind: "messageDelete"; event: DeleteMessageEvent }
  | { kind: "userDisconnect"; event: DisconnectUserEvent }
  | { kind: "connect" }
  | { kind: "connecting" }
  | { kind: "disconnect"; reason: DisconnectReason };

export interface TestChatRoom {
  room: ChatRoom;
  seen: Recorded[];
  /** Resolves with the first recorded item (past or future) matching `pred`. */
  waitFor<K extends Recorded["kind"]>(
    kind: K,
    pred?: (r: Extract<Recorded, { kind: K }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<Recorded, { kind: K }>>;
  /** Tokens the room asked its provider for. */
  provided: number;
}

const SILENT = { debug: () => undefined, info: () => undefined, error: () => undefined };

/** A ChatRoom on `url` (the gateway's `ws://host:port`) whose provider hands out the tokens of `next()` in turn. */
export function chatRoom(url: string, next: () => Promise<ChatToken>): TestChatRoom {
  const seen: Recorded[] = [];
  const waiters: Array<{ test: (r: Recorded) => boolean; resolve: (r: Recorded) => void }> = [];
  const record = (r: Recorded) => {
    seen.push(r);
    for (const w of [...waiters]) {
      if (w.test(r)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
  };
  const t: TestChatRoom = {
    room: new ChatRoom({
      regionOrUrl: url,
      tokenProvider: () => {
        t.provided++;
        return next();
      },
    }),
    seen,
    provided: 0,
    waitFor: (kind, pred, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const test = (r: Recorded) => r.kind === kind && (pred === undefined || pred(r as never));
        const hit = seen.find(test);
        if (hit !== undefined) {
          resolve(hit as never);
          return;
        }
        const timer = setTimeout(() => reject(new Error(`no ${kind} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          test,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r as never);
          },
        });
      }),
  };
  const room = t.room;
  room.logger = SILENT;
  room.logLevel = "error";
  room.addListener("message", (message) => record({ kind: "message", message }));
  room.addListener("event", (event) => record({ kind: "event", event }));
  room.addListener("messageDelete", (event) => record({ kind: "messageDelete", event }));
  room.addListener("userDisconnect", (event) => record({ kind: "userDisconnect", event }));
  room.addListener("connect", () => record({ kind: "connect" }));
  room.addListener("connecting", () => record({ kind: "connecting" }));
  room.addListener("disconnect", (reason) => record({ kind: "disconnect", reason }));
  return t;
}

/** Connects and waits until the room is connected (or fails with the disconnect reason). */
export async function connected(t: TestChatRoom): Promise<void> {
  t.room.connect();
  const r = await Promise.race([t.waitFor("connect"), t.waitFor("disconnect")]);
  if (r.kind === "disconnect") throw new Error(`chat room disconnected: ${r.reason}`);
}

/** A CreateChatToken output as the client's token provider hands it over. */
export function chatTokenOf(out: {
  token?: string | undefined;
  tokenExpirationTime?: Date | undefined;
  sessionExpirationTime?: Date | undefined;
}): ChatToken {
  return {
    token: out.token ?? "",
    ...(out.tokenExpirationTime !== undefined ? { tokenExpirationTime: out.tokenExpirationTime } : {}),
    ...(out.sessionExpirationTime !== undefined ? { sessionExpirationTime: out.sessionExpirationTime } : {}),
  };
}
