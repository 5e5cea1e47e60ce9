import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The ttrpc-ts workspace package from its source (as tsconfig.json's paths and the esbuild alias do).
  resolve: { alias: { 'ttrpc-ts': fileURLToPath(new URL('./packages/ttrpc-ts/src/index.ts', import.meta.url)) } },
  test: {
    // e2e and integration suites start containerds and containers: one file at a time on 2 cores.
    fileParallelism: false,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'packages/*/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 60_000 } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000 } },
    ],
  },
});
