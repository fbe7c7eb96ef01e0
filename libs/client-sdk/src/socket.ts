/**
 * The WebSocket used by the client: the global one (browsers, Deno, Node ≥ 22) when present, else the `ws`
 * package, loaded lazily so browsers never see it.
 */

/** The part of the WHATWG WebSocket API the client uses; both the browser's and `ws`'s satisfy it. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export const OPEN = 1;

export async function createSocket(url: string): Promise<SocketLike> {
  if (typeof globalThis.WebSocket === "function") {
    // The DOM typings declare handler parameters as full DOM events; SocketLike only reads the fields it names.
    return new globalThis.WebSocket(url) as unknown as SocketLike;
  }
  const { default: WS } = await import("ws");
  // ws's EventTarget API passes text frames as strings and close events with code and reason, as SocketLike expects.
  return new WS(url, { perMessageDeflate: false }) as unknown as SocketLike;
}

export function frameText(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return String(data);
}
