import { describe, expect, it } from "vitest";
import { ConfigError, commonSpec, duration, int, loadConfig, masterKey, natsServers, oneOf, portSetting } from "./config.js";

function error(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies defaults", () => {
    const c = loadConfig({ ...commonSpec, PORT: portSetting(8081) }, {});
    expect(c).toMatchObject({
      NATS_URL: ["nats://127.0.0.1:4222"],
      HOST: "0.0.0.0",
      PORT: 8081,
      LOG_LEVEL: "info",
      SWITCHBOARD_REPLICAS: 1,
      SWITCHBOARD_RETENTION_MAX_AGE: 86_400_000,
      SWITCHBOARD_RETENTION_MAX_MESSAGES: 10_000,
    });
    expect(c.SWITCHBOARD_MASTER_KEY).toBeUndefined();
  });

  it("reads values", () => {
    const c = loadConfig(
      { ...commonSpec, PORT: portSetting(1) },
      {
        NATS_URL: "nats://a:1, nats://b:2",
        PORT: "9000",
        LOG_LEVEL: "debug",
        SWITCHBOARD_RETENTION_MAX_AGE: "90m",
        SWITCHBOARD_MASTER_KEY: "ab".repeat(32),
      },
    );
    expect(c.NATS_URL).toEqual(["nats://a:1", "nats://b:2"]);
    expect(c.PORT).toBe(9000);
    expect(c.SWITCHBOARD_RETENTION_MAX_AGE).toBe(90 * 60_000);
    expect(c.SWITCHBOARD_MASTER_KEY?.length).toBe(32);
  });

  it("takes an http(s) URL for OTEL_EXPORTER_OTLP_ENDPOINT and names the variable otherwise", () => {
    const spec = { OTEL_EXPORTER_OTLP_ENDPOINT: commonSpec.OTEL_EXPORTER_OTLP_ENDPOINT };
    expect(loadConfig(spec, {}).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(loadConfig(spec, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318" }).OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel:4318");
    expect(error(() => loadConfig(spec, { OTEL_EXPORTER_OTLP_ENDPOINT: "otel:4318" })).message).toBe(
      'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL, got "otel:4318"',
    );
  });

  it("names the variable in every error", () => {
    expect(error(() => loadConfig({ PORT: portSetting(1) }, { PORT: "x" })).message).toBe('PORT: expected an integer, got "x"');
    expect(error(() => loadConfig({ PORT: portSetting(1) }, { PORT: "70000" })).message).toBe("PORT: must be from 0 to 65535, got 70000");
    expect(error(() => loadConfig({ L: oneOf("a", ["a", "b"]) }, { L: "c" })).message).toBe('L: must be one of a, b, got "c"');
    expect(error(() => loadConfig({ D: duration(1, 1000, 10_000) }, { D: "1y" })).variable).toBe("D");
    expect(error(() => loadConfig({ D: duration(1, 1000, 10_000) }, { D: "1h" })).message).toMatch(/^D: must be from 1s to 10s/);
    expect(error(() => loadConfig({ N: natsServers("nats://x:1") }, { N: "http://x" })).variable).toBe("N");
    expect(error(() => loadConfig({ K: masterKey() }, { K: "c2hvcnQ=" })).message).toMatch(/^K: must be 32 random bytes/);
    expect(error(() => loadConfig({ R: int(1, 1, 5) }, { R: "0" })).variable).toBe("R");
  });
});
