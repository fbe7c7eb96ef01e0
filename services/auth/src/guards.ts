/**
 * Request authentication for the auth routes, run before body validation so an unauthenticated caller gets 401,
 * not a schema error: app API keys (Basic or Bearer, constant-time) and the admin bearer token.
 */
import type { FastifyRequest } from "fastify";
import { SwitchboardError } from "@switchboard/protocol";
import { bearerTokenOf, constantTimeEqual, type ApiKeyAuthenticator, type NatsRuntime, type ResolvedKey } from "@switchboard/core";
import { authorizationOf } from "@switchboard/http";

const keys = new WeakMap<FastifyRequest, ResolvedKey>();

/** A preValidation hook authenticating the app API key; `keyOf(req)` reads it in the handler. */
export function appKeyAuth(nats: NatsRuntime<{ keys: ApiKeyAuthenticator }>) {
  return async (req: FastifyRequest): Promise<void> => {
    keys.set(req, await nats.get().keys.authenticate(authorizationOf(req)));
  };
}

export function keyOf(req: FastifyRequest): ResolvedKey {
  const key = keys.get(req);
  if (key === undefined) throw new SwitchboardError("internal", "route is missing its API key check");
  return key;
}

/** A preValidation hook requiring `Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN`. */
export function adminAuth(adminToken: string | undefined) {
  const check = (req: FastifyRequest): void => {
    if (adminToken === undefined)
      throw new SwitchboardError("unauthorized", "the admin API is disabled: set SWITCHBOARD_ADMIN_TOKEN on the auth service", {
        status: 403,
      });
    const given = bearerTokenOf(authorizationOf(req));
    if (given === undefined || !constantTimeEqual(given, adminToken))
      throw new SwitchboardError("unauthorized", "admin API: send Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN");
  };
  // A promise-returning hook (fastify's async form); the check itself needs no I/O.
  return (req: FastifyRequest): Promise<void> => Promise.resolve().then(() => check(req));
}
