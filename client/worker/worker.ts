/**
 * The browser's worker entry: `new Worker(new URL('./worker/worker.ts', import.meta.url),
 * { type: 'module' })` (spawn-worker.ts). wa-sqlite finds its wasm file next to its module.
 */
import * as Comlink from 'comlink';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { createReplicaService } from './replica-service.ts';
import { openBrowserStorage } from './storage/open-storage.ts';

Comlink.expose(createReplicaService(() => SQLiteESMFactory(), openBrowserStorage));
