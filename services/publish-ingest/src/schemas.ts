/**
 * Request schemas of publish-ingest (docs/HTTP-API.md), TypeBox. Fastify validates whole bodies with them (errors name the
 * field, via the shared HTTP shell); batch items are checked one by one here so one bad item fails only itself.
 */
import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { CLIENT_ID_MAX, EVENT_MAX, IDEMPOTENCY_KEY_MAX, SwitchboardError } from "@switchboard/protocol";
import { RoomName } from "@switchboard/http";

/** Largest batch (docs/HTTP-API.md). */
export const MAX_BATCH = 1000;
/** Largest idempotency key (libs/protocol limits.ts). */
export { IDEMPOTENCY_KEY_MAX };
/** WebSocket close reasons are at most 123 bytes. */
export const REASON_MAX = 123;

const EventName = Type.String({ minLength: 1, maxLength: EVENT_MAX, pattern: "^[A-Za-z0-9_\\-:.]+$" });
const ClientId = Type.String({ minLength: 1, maxLength: CLIENT_ID_MAX });
const IdempotencyKey = Type.String({ minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX });
export { RoomParams } from "@switchboard/http";

export const MessageParams = Type.Object({ room: RoomName, id: Type.String({ minLength: 1, maxLength: 64 }) });
export type MessageParams = Static<typeof MessageParams>;

/** The fields of one message, shared by the single and the batch publish. */
const MessageFields = {
  event: EventName,
  data: Type.Optional(Type.Unknown()),
  clientId: Type.Optional(ClientId),
  idempotencyKey: Type.Optional(IdempotencyKey),
};

export const PublishBody = Type.Object(MessageFields, { additionalProperties: false });
export type PublishBody = Static<typeof PublishBody>;

/** Items are `unknown` here so the batch itself validates; each item is checked by checkBatchItem. */
export const BatchBody = Type.Object(
  { messages: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_BATCH }) },
  { additionalProperties: false },
);
export type BatchBody = Static<typeof BatchBody>;

export const BatchItem = Type.Object({ room: RoomName, ...MessageFields }, { additionalProperties: false });
export type BatchItem = Static<typeof BatchItem>;

const batchItemCheck = TypeCompiler.Compile(BatchItem);

/** Returns the item typed, or throws `bad_request` naming the field (`messages[3].event: …`). */
export function checkBatchItem(item: unknown, index: number): BatchItem {
  if (batchItemCheck.Check(item)) return item;
  const where = `messages[${index}]`;
  if (typeof item !== "object" || item === null || Array.isArray(item))
    throw new SwitchboardError("bad_request", `${where} must be an object {room, event, data, idempotencyKey?}`);
  const first = batchItemCheck.Errors(item).First();
  if (first === undefined) throw new SwitchboardError("bad_request", `${where} is invalid`);
  // TypeBox names the field in `path` (`/event`), for missing and unexpected properties alike.
  throw new SwitchboardError("bad_request", `${where}${first.path.replace(/\//g, ".")}: ${first.message}`);
}

/** Livestorm-compatible body (extra fields are tolerated, as a Livestorm client may send them). */
export const PubSubBody = Type.Object({
  scope: Type.Object({
    type: Type.Union([Type.Literal("organization"), Type.Literal("event"), Type.Literal("session")]),
    event_id: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    session_id: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
  }),
  payload: Type.Object({
    event: Type.Object({ eventName: EventName, data: Type.Optional(Type.Unknown()) }),
  }),
});
export type PubSubBody = Static<typeof PubSubBody>;

export const DisconnectBody = Type.Object(
  {
    clientId: Type.Optional(ClientId),
    connectionId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    reason: Type.Optional(Type.String({ maxLength: REASON_MAX })),
  },
  { additionalProperties: false },
);
export type DisconnectBody = Static<typeof DisconnectBody>;
