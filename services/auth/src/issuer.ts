/**
 * Token issuance shared by POST /v1/tokens and session tokens: rate limit per key, claims built and validated once
 * per call (a `count` of tokens differ only in `jti`), HS256 signing with node:crypto.
 */
import { buildClaims, tokenResponse, type TokenRequest, type TokenResponse } from "@switchboard/protocol";
import type { ResolvedKey } from "@switchboard/core";
import type { AuthMetrics } from "./metrics.js";
import type { IssuanceLimiter } from "./ratelimit.js";
import { newJtis, signHs256Batch } from "./sign.js";

export const MAX_TOKENS_PER_CALL = 1000;

export type IssueResult = TokenResponse | { tokens: TokenResponse[] };

export interface Issuer {
  /** One token, or `{tokens}` when `count` is given. */
  issue(request: TokenRequest, count: number | undefined, key: ResolvedKey): IssueResult;
}

export function createIssuer(deps: { limiter: IssuanceLimiter; metrics: AuthMetrics }): Issuer {
  return {
    issue(request, count, key) {
      const n = count ?? 1;
      const template = buildClaims(request, { ceiling: key.ceilingMap, jti: "" });
      deps.limiter.take(key.kid, n);
      const tokens = signHs256Batch(template, newJtis(n), key).map((t) => tokenResponse(t, template));
      deps.metrics.tokensIssued.inc(n);
      const [first] = tokens;
      return count === undefined && first !== undefined ? first : { tokens };
    },
  };
}
