/**
 * The fanout-gateway's settings (docs/CONFIG.md): the shared ones, the socket limits apps get by default (defaults
 * and bounds from libs/protocol limits.ts), the Origin allow-list and the dev key of the demo page.
 */
import { SOCKET_LIMIT_BOUNDS, SOCKET_LIMIT_DEFAULTS } from "@switchboard/protocol";
import { DEFAULT_PORTS, apiKeySetting, bounded, commonSpec, portSetting, type Spec } from "@switchboard/core";
import { originAllowList } from "./origin.js";

export const gatewaySpec = {
  ...commonSpec,
  PORT: portSetting(DEFAULT_PORTS.gateway),
  SWITCHBOARD_MAX_ROOMS_PER_SOCKET: bounded(SOCKET_LIMIT_DEFAULTS.maxRoomsPerSocket, SOCKET_LIMIT_BOUNDS.maxRoomsPerSocket),
  SWITCHBOARD_PUBLISH_RATE: bounded(SOCKET_LIMIT_DEFAULTS.publishRate, SOCKET_LIMIT_BOUNDS.publishRate),
  SWITCHBOARD_PUBLISH_BURST: bounded(SOCKET_LIMIT_DEFAULTS.publishBurst, SOCKET_LIMIT_BOUNDS.publishBurst),
  SWITCHBOARD_MAX_OUTBOUND_BYTES: bounded(SOCKET_LIMIT_DEFAULTS.maxOutboundBytes, SOCKET_LIMIT_BOUNDS.maxOutboundBytes),
  SWITCHBOARD_MAX_CONNECTIONS_PER_APP: bounded(SOCKET_LIMIT_DEFAULTS.maxConnections, SOCKET_LIMIT_BOUNDS.maxConnections),
  SWITCHBOARD_ALLOWED_ORIGINS: originAllowList(),
  SWITCHBOARD_DEV_KEY: apiKeySetting(),
} satisfies Spec;
