/**
 * Storing a message a vendor call sends to a room (an OpenTok signal, an IVS SendEvent): the rooms stream through
 * core's acknowledged publisher and message envelope, as publish-ingest stores an HTTP publish, so the gateway
 * delivers it to every kind of socket with its offset. Resolves only once JetStream stored it; any failure to store
 * is `unavailable` (503), never a 2xx.
 */
import { messageIdFromOffset, unavailable, type PublishResult } from "@switchboard/protocol";
import { Subjects, encodeBody, encodeData, storeFailureMessage, type AckPublisher } from "@switchboard/core";

/** How long a vendor call waits for the JetStream acknowledgement (as publish-ingest's STORE_TIMEOUT_MS). */
export const VENDOR_STORE_TIMEOUT_MS = 2000;

export async function storeRoomMessage(
  publisher: AckPublisher,
  m: { app: string; room: string; event: string; data: unknown; clientId?: string | undefined },
): Promise<PublishResult> {
  const body = encodeBody({
    event: m.event,
    dataJson: encodeData(m.data),
    timestamp: Date.now(),
    ...(m.clientId !== undefined ? { clientId: m.clientId } : {}),
  });
  try {
    const ack = await publisher.publish(Subjects.room(m.app, m.room), body, {});
    return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
  } catch (err) {
    throw unavailable(storeFailureMessage(err), err);
  }
}
