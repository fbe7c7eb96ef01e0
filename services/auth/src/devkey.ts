/** Ensures the dev app and key named by SWITCHBOARD_DEV_KEY (`appId.keyId:secret`) exist, so `npm start` works at once. */
import type { KV } from "@nats-io/kv";
import { KvKeys, getApp, putApp, putKey, type Logger, type SecretBox, type KeyRecord, hasValue } from "@switchboard/core";

export async function ensureDevKey(
  dev: { appId: string; keyId: string; secret: string },
  apps: KV,
  keys: KV,
  box: SecretBox,
  log: Logger,
): Promise<void> {
  if ((await getApp(apps, dev.appId)) === undefined) {
    await putApp(apps, { id: dev.appId, name: "dev", createdAt: Date.now() });
    log.info({ app: dev.appId }, "created dev app");
  }
  const kid = KvKeys.key(dev.appId, dev.keyId);
  const e = await keys.get(kid);
  if (hasValue(e)) {
    try {
      if (box.open(e.json<KeyRecord>().secret, kid) === dev.secret) return;
    } catch {
      // sealed under another master key: replace it below
    }
  }
  await putKey(keys, box, dev);
  log.info({ kid }, "stored dev key");
}
