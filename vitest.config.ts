import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
    // test/containers/ builds and runs images: `npm run test:containers` (vitest.containers.config.ts); test/faults/
    // kills NATS nodes and services for minutes: `npm run test:faults` (vitest.faults.config.ts).
    exclude: ["**/node_modules/**", "**/dist/**", "test/containers/**", "test/faults/**"],
    testTimeout: 90_000,
    hookTimeout: 180_000,
    // Cross-service tests start real processes; two cores do not run many of them at once well.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"],
  },
});
