/**
 * Loads the native uWebSockets.js build directly. The package would otherwise fall back to a slow Node.js
 * implementation with only a warning; the gateway refuses to start instead (it is the fan-out hot path).
 */
import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket } from "uWebSockets.js";
export type Uws = typeof UWS;

export class NativeBuildError extends Error {
  override readonly name = "NativeBuildError";
  readonly code = "uws_native_unavailable";
}

export function loadUws(): Uws {
  const require = createRequire(import.meta.url);
  const file = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    return require(file) as Uws;
  } catch (err) {
    throw new NativeBuildError(
      `cannot load the native uWebSockets.js build for Node ${process.version} on ${process.platform}-${process.arch} ` +
        `(${file}); the gateway needs it and does not fall back to a slower socket library: run it on Node 20`,
      { cause: err },
    );
  }
}
