/**
 * Message ids. A message id is derived from its stream offset, so an idempotent repeat (which JetStream answers
 * with the original sequence) gets the original id without a lookup, and a delete by id finds its offset directly.
 */

const ID_PREFIX = "m_";

export function messageIdFromOffset(offset: number): string {
  return ID_PREFIX + offset.toString(36);
}

/** The offset of a message id, or undefined when the id is not one Switchboard issued. */
export function offsetFromMessageId(id: string): number | undefined {
  if (!id.startsWith(ID_PREFIX) || id.length > 16) return undefined;
  const body = id.slice(ID_PREFIX.length);
  if (!/^[0-9a-z]+$/.test(body)) return undefined;
  const n = parseInt(body, 36);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
