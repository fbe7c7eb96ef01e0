/** What every vendor surface is built from: the auth app's own wiring (deps.ts), nothing of its own. */
import type { AuthOptions } from "../deps.js";

export type VendorOptions = Pick<AuthOptions, "nats" | "box" | "issuer" | "log" | "metrics" | "publicGatewayUrl">;
