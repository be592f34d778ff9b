/**
 * In Node the replica lives in memory only: asking for a browser storage is a clear error
 * (and the worker it started ends), never a silent in-memory replica.
 */
import { expect, test } from 'vitest';
import { openReplica } from '../../client/index.ts';

test.each(['opfs', 'idb'] as const)('storage %s in Node is refused, saying why', async (storage) => {
  await expect(openReplica({ storage, name: 'x' })).rejects.toMatchObject({
    name: 'TreesyncError',
    code: 'invalid_request',
    message: `storage ${storage} needs a browser worker (in Node, storage is memory)`,
  });
});

test('an unknown storage or a bad name is invalid_request', async () => {
  await expect(openReplica({ storage: 'disk' as 'memory' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('storage must be one of memory, opfs, idb') });
  await expect(openReplica({ storage: 'memory', name: 'a/b' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('a replica name is [A-Za-z0-9_-]{1,64}') });
});
