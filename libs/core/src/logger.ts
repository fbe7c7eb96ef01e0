/**
 * Structured JSON logs (pino). Tokens, secrets and authorization headers are redacted by path, and URLs are logged
 * through `redactUrl` so a `?token=` never reaches a log line.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from "pino";

export type Logger = PinoLogger;

export const REDACT_PATHS = [
  "token",
  "secret",
  "key",
  "apiKey",
  "*.token",
  "*.secret",
  "*.apiKey",
  "req.headers.authorization",
  "headers.authorization",
  "authorization",
];

export function createLogger(service: string, level: LevelWithSilent): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

const TOKEN_PARAM = /([?&](?:token|access_token|key)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(TOKEN_PARAM, "$1[redacted]");
}
