/** The native adapter's concatenated frames are exactly what JSON.stringify of their libs/protocol type gives. */
import { describe, expect, it } from "vitest";
import type { ConnectedFrame } from "@switchboard/protocol";
import { nativeAdapter } from "./native.js";

describe("nativeAdapter.connected", () => {
  it("is the ConnectedFrame as JSON, with and without clientId and sessionExpiresAt", () => {
    const frames: ConnectedFrame[] = [
      {
        type: "connected",
        connectionId: "AbC-_12345678",
        clientId: 'al"ice\\',
        expiresAt: 1767225600000,
        sessionExpiresAt: 1767229200000,
        heartbeatMs: 30000,
      },
      { type: "connected", connectionId: "x", clientId: null, expiresAt: 1, sessionExpiresAt: null, heartbeatMs: 500 },
    ];
    for (const { type: _type, ...info } of frames) {
      expect(nativeAdapter.connected(info)).toBe(JSON.stringify({ type: "connected", ...info }));
    }
  });
});

describe("nativeAdapter.signal", () => {
  it("is the SignalPush as JSON: room, event and data, no id or offset (it is not stored)", () => {
    expect(nativeAdapter.signal("session:1_MX4", "chat", 'he said "hi"')).toBe(
      '{"type":"signal","room":"session:1_MX4","event":"chat","data":"he said \\"hi\\""}',
    );
    expect(JSON.parse(nativeAdapter.signal("r", "e", { n: [1, null] }))).toEqual({
      type: "signal",
      room: "r",
      event: "e",
      data: { n: [1, null] },
    });
  });
});
