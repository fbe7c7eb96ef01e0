/**
 * The Livestorm-compatible pub/sub endpoint's scope → room mapping (docs/HTTP-API.md). A publish goes to exactly one room:
 * the nesting (organization reaches every event, event every session) comes from the subscriber side, where a
 * Livestorm-style client in session S of event E listens on `org`, `event:E` and `session:S`.
 */
import { SwitchboardError, assertRoom } from "@switchboard/protocol";
import type { PubSubBody } from "./schemas.js";

export const ORG_ROOM = "org";

export function roomOfScope(scope: PubSubBody["scope"]): string {
  if (scope.type === "organization") return ORG_ROOM;
  if (scope.event_id === undefined)
    throw new SwitchboardError("bad_request", `body.scope.event_id is required for scope type ${scope.type}`);
  if (scope.type === "event") return assertRoom(`event:${scope.event_id}`);
  if (scope.session_id === undefined) throw new SwitchboardError("bad_request", "body.scope.session_id is required for scope type session");
  return assertRoom(`session:${scope.session_id}`);
}
