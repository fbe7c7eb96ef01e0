/**
 * The vendor drop-in REST surfaces on auth (README "Moving from OpenVidu / OpenTok / IVS Chat"): each vendor is its
 * own module under vendors/, registered as an encapsulated fastify plugin so its error format, content parsers and
 * auth stay its own. They share auth's sessions, token issuance, moderation and store code.
 */
import type { FastifyInstance } from "fastify";
import type { VendorOptions } from "./options.js";
import { OPENVIDU_PREFIX, openviduRoutes } from "./openvidu/routes.js";
import { opentokRoutes } from "./opentok/routes.js";
import { ivschatRoutes } from "./ivschat/routes.js";

export type { VendorOptions } from "./options.js";

export async function vendorRoutes(app: FastifyInstance, opts: VendorOptions): Promise<void> {
  await app.register(openviduRoutes, { ...opts, prefix: OPENVIDU_PREFIX });
  await app.register(opentokRoutes, opts);
  await app.register(ivschatRoutes, opts);
}
