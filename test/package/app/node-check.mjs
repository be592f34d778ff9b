// The same package in Node (the `node` condition of `treesync/client`): a replica in a
// worker thread, from the compiled files only. Prints the replica's node ids as JSON.
import { openReplica } from 'treesync/client';

const replica = await openReplica();
try {
  await replica.apply([{ type: 'move', ts: '0000000001000.00000.alice', node: 'a', parent: 'ROOT', pos: 'a0' }]);
  console.log(JSON.stringify((await replica.nodes()).map((n) => n.id)));
} finally {
  await replica.close();
}
