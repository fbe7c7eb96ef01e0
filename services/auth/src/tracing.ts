/**
 * The token issuance span (docs/OPERATIONS.md, "Reading a trace"): one span per issuance call when tracing is on
 * (a `count` of tokens is one span); with it off the issuer is used as it is. Never a token or claim in an attribute.
 */
import { inSpanSync, tracingOn } from "@switchboard/core";
import type { Issuer } from "./issuer.js";

export function tracedIssuer(issuer: Issuer): Issuer {
  if (!tracingOn()) return issuer;
  return {
    issue: (request, count, key) =>
      inSpanSync("issue tokens", { "switchboard.app": key.appId, "switchboard.tokens": count ?? 1 }, () =>
        issuer.issue(request, count, key),
      ),
  };
}
