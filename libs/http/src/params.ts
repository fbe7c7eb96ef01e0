/**
 * Path parameters shared by the HTTP services' route schemas (TypeBox). A room name is checked by assertRoom (code
 * `invalid_room`, with the naming rule); the schema only bounds the string, so a too-long or percent-encoded name
 * still reaches that check instead of a framework error.
 */
import { Type, type Static } from "@sinclair/typebox";

export const RoomName = Type.String({ minLength: 1, maxLength: 1024 });

/** `/…/rooms/:room/…` */
export const RoomParams = Type.Object({ room: RoomName });
export type RoomParams = Static<typeof RoomParams>;
