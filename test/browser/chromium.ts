/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). A persistent
 * context on a fresh profile folder: OPFS and IndexedDB survive a reload within it, and
 * nothing leaks between tests. A missing browser is a failure that says what to do, never a
 * skip: `.ci/run` installs it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Chromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

export function assertChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: the browser tests need Debian's chromium. ` +
        'Install it with `apt-get update && apt-get install -y chromium` (.ci/run does this by itself).',
    );
  }
}

export async function launchChromium(): Promise<Chromium> {
  assertChromium();
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(join(tmpdir(), 'treesync-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      // A loaded 2-core machine starts Chromium slowly.
      timeout: 120_000,
    });
    context.setDefaultTimeout(60_000);
    return {
      context,
      async close() {
        try {
          await context.close();
        } finally {
          await rm(profile, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}
