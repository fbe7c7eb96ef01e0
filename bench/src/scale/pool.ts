/**
 * The bench process's side of the load workers: forks them (loadworker.ts), splits sockets between them, sends each
 * a command and gathers the answers. Worker w uses source addresses 127.0.0.(2 + w*4 … 5 + w*4), so that many
 * sockets to one server port never run out of ephemeral ports and each process stays under its file limit.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  nth,
  type Command,
  type Counters,
  type ExpectResult,
  type OpenResult,
  type RequestResult,
  type SubscribeResult,
} from "./protocol.js";

const WORKER = fileURLToPath(new URL("./loadworker.js", import.meta.url));

export class LoadPool {
  private readonly procs: ChildProcess[];
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  /** Sockets each worker holds (open order), for subscribe's global socket index. */
  private counts: number[];

  constructor(readonly size: number) {
    this.procs = Array.from({ length: size }, () => {
      const p = fork(WORKER, [], { execArgv: ["--max-old-space-size=2048"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
      p.on("message", (m: { id: number; result?: unknown; error?: string }) => {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error !== undefined) w?.reject(new Error(m.error));
        else w?.resolve(m.result);
      });
      return p;
    });
    this.counts = new Array<number>(size).fill(0);
  }

  pids(): number[] {
    return this.procs.map((p) => p.pid ?? -1);
  }

  private call<T>(w: number, cmd: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      nth(this.procs, w).send({ id, cmd });
    });
  }

  private all<T>(cmd: (w: number) => Command): Promise<T[]> {
    return Promise.all(this.procs.map((_, w) => this.call<T>(w, cmd(w))));
  }

  /** Opens `count` sockets spread over the workers; `paths` is one path for all or one per socket. */
  async open(port: number, count: number, paths: string[], opts: { inFlight?: number; sampleEvery?: number } = {}): Promise<OpenResult[]> {
    const share = (w: number) => Math.floor(count / this.size) + (w < count % this.size ? 1 : 0);
    let from = 0;
    const slices = this.procs.map((_, w) => {
      const n = share(w);
      const s = paths.length === 1 ? paths : paths.slice(from, from + n);
      from += n;
      return { n, paths: s };
    });
    const results = await this.all<OpenResult>((w) => ({
      op: "open",
      port,
      paths: nth(slices, w).paths,
      count: nth(slices, w).n,
      localAddresses: [0, 1, 2, 3].map((k) => `127.0.0.${2 + w * 4 + k}`),
      inFlight: opts.inFlight ?? 256,
      sampleEvery: opts.sampleEvery ?? 10,
    }));
    this.counts = this.counts.map((c, w) => c + nth(slices, w).n);
    return results;
  }

  subscribe(rooms: number, perSocket: number, prefix: string, presence = false): Promise<SubscribeResult[]> {
    return this.all<SubscribeResult>((w) => ({
      op: "subscribe",
      rooms,
      perSocket,
      prefix,
      presence,
      base: this.counts.slice(0, w).reduce((a, b) => a + b, 0),
    }));
  }

  expect(perSocket: number, timeoutMs: number): Promise<ExpectResult[]> {
    return this.all<ExpectResult>(() => ({ op: "expect", perSocket, timeoutMs }));
  }

  requests(kind: "publish" | "presence", rooms: number, prefix: string, window: number, durationMs: number): Promise<RequestResult[]> {
    return this.all<RequestResult>((w) => ({
      op: "requests",
      kind,
      rooms,
      prefix,
      window,
      durationMs,
      base: this.counts.slice(0, w).reduce((a, b) => a + b, 0),
    }));
  }

  stats(): Promise<Array<Counters & { open: number }>> {
    return this.all(() => ({ op: "stats" }));
  }

  reset(): Promise<unknown[]> {
    return this.all(() => ({ op: "reset" }));
  }

  async closeAll(): Promise<Counters[]> {
    const r = await this.all<Counters>(() => ({ op: "close" }));
    this.counts = this.counts.map(() => 0);
    return r;
  }

  stop(): void {
    for (const p of this.procs) p.kill("SIGKILL");
  }
}

/** Sum of counters over workers. */
export function sumCounters(cs: Counters[]): Counters {
  const out: Counters = { frames: 0, reads: 0, messages: 0, presence: 0, okReplies: 0, errorReplies: 0, closes: {}, errors: {} };
  for (const c of cs) {
    out.frames += c.frames;
    out.reads += c.reads;
    out.messages += c.messages;
    out.presence += c.presence;
    out.okReplies += c.okReplies;
    out.errorReplies += c.errorReplies;
    for (const [k, v] of Object.entries(c.closes)) out.closes[k] = (out.closes[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.errors)) out.errors[k] = (out.errors[k] ?? 0) + v;
  }
  return out;
}
