/**
 * IVS Chat request bodies (AWS restJson1, @aws-sdk/client-ivschat 3.9xx) as TypeBox schemas with AWS's bounds: the
 * SDK validates nothing client-side, so everything is checked here and refused as ValidationException naming the
 * field (shared VENDOR-SDKS.md §3.3).
 */
import { Type, type Static } from "@sinclair/typebox";
import { CLIENT_ID_MAX } from "@switchboard/protocol";
import { ROOM_LIMITS } from "./rooms.js";

export const CAPABILITIES = ["SEND_MESSAGE", "DELETE_MESSAGE", "DISCONNECT_USER"] as const;
/** Attributes (token or event) are at most 1 KiB in total, keys and values counted in UTF-8. */
export const ATTRIBUTES_MAX_BYTES = 1024;
export const SESSION_MINUTES = { min: 1, max: 180, default: 60 } as const;

const Identifier = Type.String({ minLength: 1, maxLength: 256 });
const Attributes = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String(), { maxProperties: 64 });
const Name = Type.String({ maxLength: 128, pattern: "^[a-zA-Z0-9-_]*$" });
const Tags = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }), { maxProperties: 50 });
const Length = Type.Integer({ minimum: ROOM_LIMITS.maximumMessageLength.min, maximum: ROOM_LIMITS.maximumMessageLength.max });
const Rate = Type.Integer({ minimum: ROOM_LIMITS.maximumMessageRatePerSecond.min, maximum: ROOM_LIMITS.maximumMessageRatePerSecond.max });
/** Lambda review handlers and logging configurations are AWS resources Switchboard does not have. */
const Unsupported = Type.Unknown();

export const CreateChatTokenBody = Type.Object(
  {
    roomIdentifier: Identifier,
    userId: Type.String({ minLength: 1, maxLength: CLIENT_ID_MAX }),
    capabilities: Type.Optional(
      Type.Array(Type.Unsafe<(typeof CAPABILITIES)[number]>({ type: "string", enum: [...CAPABILITIES] }), { maxItems: 3 }),
    ),
    sessionDurationInMinutes: Type.Optional(Type.Integer({ minimum: SESSION_MINUTES.min, maximum: SESSION_MINUTES.max })),
    attributes: Type.Optional(Attributes),
  },
  { additionalProperties: false },
);
export type CreateChatTokenBody = Static<typeof CreateChatTokenBody>;

export const SendEventBody = Type.Object(
  { roomIdentifier: Identifier, eventName: Type.String({ minLength: 1, maxLength: 100 }), attributes: Type.Optional(Attributes) },
  { additionalProperties: false },
);
export type SendEventBody = Static<typeof SendEventBody>;

export const DeleteMessageBody = Type.Object(
  { roomIdentifier: Identifier, id: Type.String({ minLength: 1, maxLength: 128 }), reason: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: false },
);
export type DeleteMessageBody = Static<typeof DeleteMessageBody>;

export const DisconnectUserBody = Type.Object(
  {
    roomIdentifier: Identifier,
    userId: Type.String({ minLength: 1, maxLength: CLIENT_ID_MAX }),
    reason: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type DisconnectUserBody = Static<typeof DisconnectUserBody>;

export const CreateRoomBody = Type.Object(
  {
    name: Type.Optional(Name),
    maximumMessageRatePerSecond: Type.Optional(Rate),
    maximumMessageLength: Type.Optional(Length),
    messageReviewHandler: Type.Optional(Unsupported),
    tags: Type.Optional(Tags),
    loggingConfigurationIdentifiers: Type.Optional(Unsupported),
  },
  { additionalProperties: false },
);
export type CreateRoomBody = Static<typeof CreateRoomBody>;

export const UpdateRoomBody = Type.Object(
  {
    identifier: Identifier,
    name: Type.Optional(Name),
    maximumMessageRatePerSecond: Type.Optional(Rate),
    maximumMessageLength: Type.Optional(Length),
    messageReviewHandler: Type.Optional(Unsupported),
    loggingConfigurationIdentifiers: Type.Optional(Unsupported),
  },
  { additionalProperties: false },
);
export type UpdateRoomBody = Static<typeof UpdateRoomBody>;

export const RoomIdBody = Type.Object({ identifier: Identifier }, { additionalProperties: false });
export type RoomIdBody = Static<typeof RoomIdBody>;

export const ListRoomsBody = Type.Object(
  {
    name: Type.Optional(Name),
    maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    nextToken: Type.Optional(Type.String({ maxLength: 1024 })),
    messageReviewHandlerUri: Type.Optional(Unsupported),
    loggingConfigurationIdentifier: Type.Optional(Unsupported),
  },
  { additionalProperties: false },
);
export type ListRoomsBody = Static<typeof ListRoomsBody>;
