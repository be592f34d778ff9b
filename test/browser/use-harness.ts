/**
 * A test file's browser harness: started once before its tests, closed after them. If it
 * cannot start (no Chromium, say), every test of the file fails with that error; a failing
 * beforeAll alone would leave them reported as skipped.
 */
import { afterAll, beforeAll } from 'vitest';
import { startHarness, type BrowserHarness } from './harness.ts';

/** `api`: read when the harness starts (after hooks registered before this call, such as a
 * test server's): the treesync server the page reaches through its own origin. */
export function useHarness(api?: () => string): () => BrowserHarness {
  let started: BrowserHarness | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      started = await startHarness(undefined, api?.());
    } catch (err) {
      failure = err;
    }
  }, 240_000);
  afterAll(async () => {
    await started?.close();
  }, 120_000);
  return () => {
    if (!started) throw failure ?? new Error('the browser harness did not start');
    return started;
  };
}
