// The fault suites (`npm run test:faults`, also run by .ci/run after `npm test`): a 3-node nats-server cluster with
// node loss and partitions, services killed mid-request, JetStream out of storage. They take minutes and start many
// processes, so they run one file at a time and stay out of `npm test` (vitest.config.ts excludes test/faults/).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
