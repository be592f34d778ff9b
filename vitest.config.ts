import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/**/*.test.ts',
      'server/**/*.test.ts',
      'client/**/*.test.ts',
      'sql/**/*.test.ts',
    ],
    // One Postgres cluster per run with migrated templates; each file clones its own database,
    // so files run in parallel without sharing state or ports.
    globalSetup: ['test/pg/global-setup.ts'],
    pool: 'forks',
    // In CI, also a machine-readable summary that .ci/run turns into a closing line
    // (CI_RESULTS names the file when it runs the tests more than once).
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: process.env.CI_RESULTS ?? '.ci/results.json' }]]
      : ['default'],
    // Property tests against a real Postgres run many cases; hooks create and drop databases.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
