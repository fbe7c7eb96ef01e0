/** The auth service's Prometheus metrics (docs/OPERATIONS.md); the shared HTTP metrics come from libs/http. */
import { Counter, type Registry } from "prom-client";
import { PREFIX } from "@switchboard/core";

export type AuthMetrics = ReturnType<typeof authMetrics>;

/** The vendor drop-in surfaces (services/auth/src/vendors): the `vendor` label of the vendor metrics. */
export const VENDORS = ["openvidu", "opentok", "ivschat"] as const;
export type Vendor = (typeof VENDORS)[number];

/** Why a vendor request failed: a fixed set, so the `reason` label stays bounded. */
export const VENDOR_FAILURE_REASONS = [
  "unauthorized",
  "forbidden",
  "bad_signature",
  "expired",
  "bad_request",
  "not_found",
  "conflict",
  "not_supported",
  "rate_limited",
  "unavailable",
  "internal",
] as const;
export type VendorFailureReason = (typeof VENDOR_FAILURE_REASONS)[number];

export function authMetrics(registry: Registry) {
  return {
    tokensIssued: new Counter({
      name: `${PREFIX}auth_tokens_issued_total`,
      help: "Tokens issued by the auth service",
      registers: [registry],
    }),
    vendorRequests: new Counter({
      name: `${PREFIX}auth_vendor_requests_total`,
      help: "Requests to the vendor drop-in REST surfaces (OpenVidu, OpenTok, IVS Chat), by vendor",
      labelNames: ["vendor"] as const,
      registers: [registry],
    }),
    vendorFailures: new Counter({
      name: `${PREFIX}auth_vendor_failures_total`,
      help: "Vendor drop-in requests answered with an error, by vendor and reason",
      labelNames: ["vendor", "reason"] as const,
      registers: [registry],
    }),
  };
}
