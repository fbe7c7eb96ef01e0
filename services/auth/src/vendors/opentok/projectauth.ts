/**
 * `X-OPENTOK-AUTH`: the JWT the `opentok` SDK signs per REST request with the project secret (shared VENDOR-SDKS.md
 * §2.3): HS256, `iss` = apiKey (a Switchboard key id `appId.keyId`), `ist` = "project", `exp` = iat + 300. Verified
 * against the key's secret in constant time; the lifetime is bounded so a captured header cannot be replayed for long.
 * Vonage-mode apps (`Authorization: Bearer` RS256 with an application's private key) are not supported: Switchboard
 * keys are shared secrets.
 */
import type { ResolvedKey } from "@switchboard/core";
import { VendorError } from "../errors.js";
import { CLOCK_SKEW_S, constantTimeEqual, decodeJwt, hs256Of } from "@switchboard/core";

/** The longest lifetime accepted for a REST auth JWT (the SDK makes 300 s ones). */
export const PROJECT_JWT_MAX_LIFETIME_S = 3600;

const unauthorized = (why: string) =>
  new VendorError(401, "unauthorized", `X-OPENTOK-AUTH: ${why}; sign it with your apiKey (appId.keyId) and its secret`);

export async function verifyProjectJwt(
  header: string | string[] | undefined,
  keyById: (kid: string) => Promise<ResolvedKey | undefined>,
  nowSec: number = Math.floor(Date.now() / 1000),
): Promise<ResolvedKey> {
  if (typeof header !== "string" || header.length === 0 || header.length > 4096) throw unauthorized("missing");
  const jwt = decodeJwt(header);
  if (typeof jwt === "string") throw unauthorized("not a JWT");
  const { h, p, s, header: head, claims } = jwt;
  if (head["alg"] !== "HS256") throw unauthorized("must be signed HS256");
  const iss = claims["iss"];
  if (typeof iss !== "string" || iss === "" || iss.length > 129) throw unauthorized("no iss");
  const key = await keyById(iss);
  const expected = key === undefined ? "" : hs256Of(key)(`${h}.${p}`);
  if (key === undefined || !constantTimeEqual(expected, s)) throw unauthorized("unknown apiKey or wrong secret");
  if (claims["ist"] !== "project") throw unauthorized('ist must be "project"');
  const exp = claims["exp"];
  const iat = claims["iat"];
  if (typeof exp !== "number" || exp <= nowSec) throw unauthorized("expired");
  if (typeof iat === "number" && iat > nowSec + CLOCK_SKEW_S) throw unauthorized("iat is in the future");
  if (exp - nowSec > PROJECT_JWT_MAX_LIFETIME_S) throw unauthorized(`exp is more than ${PROJECT_JWT_MAX_LIFETIME_S} s ahead`);
  return key;
}
