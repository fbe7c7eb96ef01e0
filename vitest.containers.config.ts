// The container tests (`npm run test:containers`): they build the service images and run them with podman or Docker,
// so they take minutes and stay out of `npm test` (vitest.config.ts excludes test/containers/).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/containers/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 30 * 60_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
