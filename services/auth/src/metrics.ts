/** The auth service's Prometheus metrics (DESIGN §9); the shared HTTP metrics come from libs/http. */
import { Counter, type Registry } from "prom-client";
import { PREFIX } from "@switchboard/core";

export type AuthMetrics = ReturnType<typeof authMetrics>;

export function authMetrics(registry: Registry) {
  return {
    tokensIssued: new Counter({
      name: `${PREFIX}auth_tokens_issued_total`,
      help: "Tokens issued by the auth service",
      registers: [registry],
    }),
  };
}
