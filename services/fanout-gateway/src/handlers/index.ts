/** The request handlers of the gateway: one per request type, typed by libs/protocol's request → result map. */
import type { Handlers } from "./context.js";
import { history } from "./history.js";
import { moderateDelete, moderateTarget } from "./moderation.js";
import { occupancy, presenceEnter, presenceGet, presenceLeave } from "./presence.js";
import { publish } from "./publish.js";
import { ping, refresh } from "./session.js";
import { subscribe, unsubscribe } from "./subscribe.js";

export const handlers: Handlers = {
  subscribe,
  unsubscribe,
  publish,
  history,
  refresh,
  ping,
  "presence.join": presenceEnter,
  "presence.update": presenceEnter,
  "presence.leave": presenceLeave,
  "presence.get": presenceGet,
  occupancy,
  "moderate.disconnect": moderateTarget,
  "moderate.mute": moderateTarget,
  "moderate.unmute": moderateTarget,
  "moderate.delete": moderateDelete,
};

export type { Handler, HandlerContext, Handlers } from "./context.js";
export { dropSub } from "./subscribe.js";
