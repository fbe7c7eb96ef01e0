/**
 * The uWS topics a socket joins for a room. Each live message is published once to the room's topic (sockets that
 * take every event) and once more to its event's topic when some socket filters on that event; presence pushes and
 * room-wide pushes (message.deleted) have a topic each. Keys never collide with room or event names: \u0001 and
 * \u0002 are not allowed in either.
 */

/** Every event of a room; also the room's key in the hub. */
export function topicAll(app: string, room: string): string {
  return `${app}\u0001${room}`;
}

export function topicEvent(app: string, room: string, event: string): string {
  return `${app}\u0001${room}\u0001${event}`;
}

/** Presence pushes of a room (sockets that subscribed with presence:true). */
export function topicPresence(app: string, room: string): string {
  return `${app}\u0001${room}\u0002p`;
}

/** Room-wide pushes (message.deleted) for sockets that filter events and so are not on the room's topic. */
export function topicMeta(app: string, room: string): string {
  return `${app}\u0001${room}\u0002m`;
}

/** Every event of a room, as IVS chat frames (adapters/ivs.ts), for IVS chat sockets; `roomKey` is topicAll's. */
export function topicIvs(roomKey: string): string {
  return `${roomKey}\u0002i`;
}
