/** Request body pieces shared by the token and session routes (TypeBox; errors name the field). */
import { Type } from "@sinclair/typebox";
import { CLIENT_ID_MAX, DATA_MAX, MAX_EXPIRES_IN } from "@switchboard/protocol";
import { MAX_TOKENS_PER_CALL } from "./issuer.js";

export const PermissionsSchema = Type.Record(Type.String(), Type.Array(Type.String(), { maxItems: 7 }), { maxProperties: 64 });
export const ClientIdSchema = Type.Union([Type.String({ minLength: 1, maxLength: CLIENT_ID_MAX }), Type.Number()]);
export const CountSchema = Type.Integer({ minimum: 1, maximum: MAX_TOKENS_PER_CALL });
export const ExpiresInSchema = Type.Integer({ minimum: 1, maximum: MAX_EXPIRES_IN });
export const DataSchema = Type.String({ maxLength: DATA_MAX });
