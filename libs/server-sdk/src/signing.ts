/**
 * Offline token signing (docs/HTTP-API.md): claims built and signed by @switchboard/protocol exactly as the auth service
 * does, with the secret of the SDK's API key. No network.
 */
import {
  SwitchboardError,
  buildClaims,
  parseApiKey,
  signToken,
  tokenResponse,
  type SigningKey,
  type TokenRequest,
  type TokenResponse,
} from "@switchboard/protocol";

export function signingKeyOf(apiKey: unknown): SigningKey {
  const key = typeof apiKey === "string" ? parseApiKey(apiKey) : undefined;
  if (key === undefined)
    throw new SwitchboardError(
      "bad_request",
      "apiKey must look like <appId>.<keyId>:<secret> (npm start prints the dev key; it is also in .data/dev.json)",
    );
  return key;
}

export async function signOffline(key: SigningKey, req: TokenRequest, nowSec?: number): Promise<TokenResponse> {
  const claims = buildClaims(req, nowSec === undefined ? {} : { nowSec });
  return tokenResponse(await signToken(claims, key), claims);
}

/**
 * Seconds from `nowSec` until an absolute time given as a Date or epoch milliseconds, so that a token issued at
 * `nowSec` expires at the last whole second not after it.
 */
export function secondsUntil(expireTime: Date | number, nowSec: number): number {
  const ms = expireTime instanceof Date ? expireTime.getTime() : expireTime;
  if (typeof ms !== "number" || !Number.isFinite(ms))
    throw new SwitchboardError("bad_request", "expireTime must be a Date or epoch milliseconds");
  if (ms < 1e12) throw new SwitchboardError("bad_request", "expireTime looks like epoch seconds; pass epoch milliseconds or a Date");
  const seconds = Math.floor(ms / 1000) - nowSec;
  if (seconds < 1) throw new SwitchboardError("bad_request", "expireTime must be at least a second in the future");
  return seconds;
}
