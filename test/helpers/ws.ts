/**
 * A test WebSocket client that records every frame and lets a test wait for a frame, a reply or the close,
 * without sleeping.
 */
import WebSocket from "ws";

export interface Frame {
  type: string;
  [k: string]: unknown;
}

export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  /** Resolves with the first recorded frame (past or future) matching `pred`. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs?: number, what?: string): Promise<Frame>;
  /** Sends a request with the next id and resolves with its reply frame. */
  request(type: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Frame>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function openSocket(url: string, options: WebSocket.ClientOptions = {}): TestSocket {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  const frames: Frame[] = [];
  const waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  let nextId = 1;
  // With ws's default binaryType ("nodebuffer") every message arrives as one Buffer.
  ws.on("message", (data: Buffer) => {
    const f = JSON.parse(data.toString()) as Frame;
    frames.push(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on("error", () => undefined);
  const waitFor = (pred: (f: Frame) => boolean, timeoutMs = 5000, what = "frame") => {
    const hit = frames.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(entry), 1);
        reject(new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(frames).slice(0, 2000)}`));
      }, timeoutMs);
      const entry = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      waiters.push(entry);
    });
  };
  return {
    ws,
    frames,
    waitFor,
    request: async (type, fields = {}, timeoutMs = 5000) => {
      const id = nextId++;
      if (ws.readyState === WebSocket.CONNECTING) await new Promise((r) => ws.once("open", r));
      ws.send(JSON.stringify({ type, id, ...fields }));
      return waitFor((f) => f.type === "reply" && f["id"] === id, timeoutMs, `reply to ${type} #${id}`);
    },
    closed,
    close: () => ws.close(),
  };
}
