/**
 * The client side of the history service's NATS endpoint (Subjects.history, queue group `history`), beside
 * sendControl (control.ts): a page of a room's stored messages, and the forwards reads the gateway uses to resume a
 * socket and to heal a live gap. Any failure becomes a SwitchboardError: the service's own `bad_request`, else
 * `unavailable` (no answer in time, or the service could not read JetStream).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { SwitchboardError, type HistoryRequest, type HistoryResult, type StoredMessage } from "@switchboard/protocol";
import { Subjects } from "./subjects.js";

/** A first page (room and bounds), or the page after a cursor. */
export type HistoryQuery = Omit<HistoryRequest, "type" | "id"> | { room: string; next: string; limit?: number };

export interface HistoryClient {
  /** One page of `query.room`, as the history service answers it. */
  page(app: string, query: HistoryQuery): Promise<HistoryResult>;
  /**
   * Messages after `after` (and before `before`, when given), oldest first, paged up to HISTORY_REPLAY_MAX;
   * `exhausted` is true when history had no more.
   */
  forwards(app: string, room: string, after: number, before?: number): Promise<{ messages: StoredMessage[]; exhausted: boolean }>;
  /** Messages with offsets in (after, upTo], oldest first. */
  range(app: string, room: string, after: number, upTo: number): Promise<StoredMessage[]>;
}

/** How long one attempt of a page request waits for the history service. */
export const HISTORY_REQUEST_TIMEOUT_MS = 2500;
/**
 * Attempts of one page request. A request taken by a history process that dies with it is never answered; NATS drops
 * the dead process's queue subscription at once, so the next attempt reaches a live one. Pages are reads: safe to ask
 * again.
 */
const PAGE_ATTEMPTS = 3;
/** Most messages one forwards read collects (a resume or a gap heal). */
export const HISTORY_REPLAY_MAX = 10_000;
/** Page size of forwards reads (the history service's largest). */
const FORWARDS_PAGE = 100;

type PageReply = HistoryResult | { error: { code: string; message: string } };

export function natsHistoryClient(nc: NatsConnection, timeoutMs = HISTORY_REQUEST_TIMEOUT_MS): HistoryClient {
  const page = async (app: string, query: HistoryQuery): Promise<HistoryResult> => {
    let reply;
    for (let attempt = 1; reply === undefined; attempt++) {
      try {
        reply = await nc.request(Subjects.history(app), JSON.stringify(query), { timeout: timeoutMs });
      } catch (err) {
        if (attempt >= PAGE_ATTEMPTS)
          throw new SwitchboardError("unavailable", "the history service did not answer; retry", { cause: err });
        // No responder at all fails at once: leave a moment for one to (re)subscribe.
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
    const body = reply.json<PageReply>();
    if ("error" in body)
      throw new SwitchboardError(body.error.code === "bad_request" ? "bad_request" : "unavailable", `history: ${body.error.message}`);
    return body;
  };

  const forwards = async (app: string, room: string, after: number, before?: number) => {
    const messages: StoredMessage[] = [];
    const first: HistoryQuery = { room, direction: "forwards", limit: FORWARDS_PAGE, after, ...(before === undefined ? {} : { before }) };
    let next: string | null = null;
    do {
      const p: HistoryResult = await page(app, next === null ? first : { room, next, limit: FORWARDS_PAGE });
      messages.push(...p.messages);
      next = p.next;
    } while (next !== null && messages.length < HISTORY_REPLAY_MAX);
    return { messages, exhausted: next === null };
  };

  return {
    page,
    forwards,
    range: async (app, room, after, upTo) => (await forwards(app, room, after, upTo + 1)).messages,
  };
}
