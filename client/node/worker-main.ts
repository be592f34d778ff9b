/**
 * The worker entry in Node (a worker_threads Worker; worker-bootstrap.mjs loads it). The same
 * replica service as in a browser; wa-sqlite's Emscripten module cannot fetch its wasm file in
 * Node, so it gets the bytes (`wasmBinary`).
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import SQLiteESMFactory from '@journeyapps/wa-sqlite/dist/wa-sqlite.mjs';
import { createReplicaService } from '../worker/replica-service.ts';

if (!parentPort) throw new Error('worker-main.ts runs in a worker thread');

const wasm = new URL(import.meta.resolve('@journeyapps/wa-sqlite/dist/wa-sqlite.wasm'));
Comlink.expose(
  createReplicaService(async () => SQLiteESMFactory({ wasmBinary: await readFile(wasm) })),
  nodeEndpoint(parentPort),
);
