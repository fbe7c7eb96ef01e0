/** @switchboard/client — the browser and Node client SDK (README.md#sdks). No Node-only imports at load time. */
export { SwitchboardClient } from "./client.js";
export type { ClientEvents, ClientOptions, ConnectionState } from "./client.js";
export { Room, RoomPresence } from "./room.js";
export type { HistoryOptions, HistoryPage, MessageHandler, Occupancy, PresenceHandler } from "./room.js";
export { PubSub } from "./pubsub.js";
export type { PubSubCallback, PubSubScope } from "./pubsub.js";
export { SwitchboardError } from "@switchboard/protocol/errors";
export type { ErrorCode } from "@switchboard/protocol/errors";
export type {
  MessagePush,
  PresenceMember,
  PresencePush,
  PublishResult,
  SignalPush,
  StoredMessage,
  SubscribeResult,
} from "@switchboard/protocol/frames";
