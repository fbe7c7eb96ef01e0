/** Element `i` of an array that must have it (a bench invariant); throws otherwise. */
export function nth<T>(a: readonly T[], i: number): T {
  const v = a[i];
  if (v === undefined) throw new RangeError(`no element ${i} of ${a.length}`);
  return v;
}

/** The commands a load worker (loadworker.ts) takes from the bench process over IPC, and what it answers. */

export type Command =
  | {
      op: "open";
      port: number;
      /** One path for every socket, or one per socket (distinct tokens). */
      paths: string[];
      count: number;
      localAddresses: string[];
      /** Sockets connecting at once in this worker. */
      inFlight: number;
      /** Every n-th socket records latencies. */
      sampleEvery: number;
    }
  | { op: "subscribe"; rooms: number; perSocket: number; base: number; prefix: string; presence: boolean }
  | { op: "expect"; perSocket: number; timeoutMs: number }
  | { op: "requests"; kind: "publish" | "presence"; rooms: number; base: number; prefix: string; window: number; durationMs: number }
  | { op: "stats" }
  | { op: "reset" }
  | { op: "close" };

export interface Counters {
  frames: number;
  /** Socket reads (`data` events): frames / reads is how many frames each read carried. */
  reads: number;
  messages: number;
  presence: number;
  okReplies: number;
  errorReplies: number;
  /** Close frames received, by code. */
  closes: Record<string, number>;
  /** Socket errors and refused upgrades, by code. */
  errors: Record<string, number>;
}

/** Times are epoch ms with sub-ms precision (performance.timeOrigin + performance.now()). */
export interface OpenResult {
  ready: number;
  failed: number;
  connectMs: number[];
  start: number;
  end: number;
  firstError: string | undefined;
}

export interface SubscribeResult {
  ok: number;
  failed: number;
  start: number;
  end: number;
  firstError: string | undefined;
}

export interface ExpectResult {
  reached: boolean;
  messages: number;
  target: number;
  at: number;
  latencies: number[];
}

export interface RequestResult {
  ok: number;
  failed: number;
  start: number;
  end: number;
  replyMs: number[];
  firstError: string | undefined;
}
