/**
 * Request authentication for the auth routes, run before body validation so an unauthenticated caller gets 401,
 * not a schema error: app API keys (Basic or Bearer, constant-time) and the admin bearer token.
 */
import type { FastifyRequest } from "fastify";
import { SwitchboardError } from "@switchboard/protocol";
import { constantTimeEqual, type KeyRegistry, type NatsRuntime, type ResolvedKey } from "@switchboard/core";
import { authorizationOf } from "@switchboard/http";

const keys = new WeakMap<FastifyRequest, ResolvedKey>();

/** A preValidation hook authenticating the app API key; `keyOf(req)` reads it in the handler. */
export function appKeyAuth(nats: NatsRuntime<{ keys: KeyRegistry }>) {
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
  return async (req: FastifyRequest): Promise<void> => {
    if (adminToken === undefined)
      throw new SwitchboardError("unauthorized", "the admin API is disabled: set SWITCHBOARD_ADMIN_TOKEN on the auth service", {
        status: 403,
      });
    const header = authorizationOf(req);
    const given = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    if (given === undefined || !constantTimeEqual(given, adminToken))
      throw new SwitchboardError("unauthorized", "admin API: send Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN");
  };
}
