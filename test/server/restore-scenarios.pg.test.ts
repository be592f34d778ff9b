// The worked examples of docs/deletes.md, through the real HTTP API: replicas push with the
// `seen` they had, in both arrival orders; each scenario ends with the expected nodes restored
// or not, and every replica, having pulled what it lacked, holding the server's tree.
import { describe, expect, test } from 'vitest';
import { formatTs, tsWall, type Op } from '../../protocol/ops.ts';
import { pullResponseSchema } from '../../protocol/pull.ts';
import { pushResponseSchema } from '../../protocol/push.ts';
import { stateResponseSchema } from '../../protocol/state.ts';
import { move, set, ts } from '../merge/ops.ts';
import { replay } from '../model/reference.ts';
import { useTestDb } from '../pg/db.ts';
import { useTestServer, type TestServer } from './harness.ts';

const db = useTestDb();
const server = useTestServer(db);
let trees = 0;

/** A client replica as the protocol sees it: the ops it holds and the seq it has applied. */
class Replica {
  ops: Op[] = [];
  seen = 0;
  constructor(
    private readonly server: TestServer,
    private readonly tree: string,
    readonly id: string,
  ) {}

  /** Pushes `ops` made now (with what this replica has seen), then takes the answer's ops. */
  async push(ops: Op[]): Promise<{ seq: number }> {
    const token = await this.server.token();
    const floor = ops[0]?.ts ?? ts(0, this.id);
    const res = await this.server.call('POST', `/v1/trees/${this.tree}/push`, {
      token,
      body: { replica: this.id, seen: this.seen, floor, ops },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const answer = pushResponseSchema.parse(res.body);
    this.ops.push(...ops, ...answer.ops);
    if (!answer.more) this.seen = answer.seq;
    else await this.pull();
    return answer;
  }

  /** Pulls everything stored after `seen`. */
  async pull(): Promise<void> {
    const token = await this.server.token();
    for (;;) {
      const res = await this.server.call('GET', `/v1/trees/${this.tree}/pull?since=${this.seen}`, { token });
      const page = pullResponseSchema.parse(res.body);
      if ('reset' in page) throw new Error('unexpected reset');
      this.ops.push(...page.ops);
      this.seen = page.ops.at(-1)?.seq ?? page.seq;
      if (!page.more) return;
    }
  }
}

async function newTree(options: object = {}): Promise<string> {
  const tree = `scenario-${++trees}`;
  const res = await server.call('PUT', `/v1/trees/${tree}`, { token: await server.token(), body: options });
  expect(res.status).toBe(201);
  return tree;
}

async function state(tree: string) {
  const res = await server.call('GET', `/v1/trees/${tree}/state`, { token: await server.token() });
  const s = stateResponseSchema.parse(res.body);
  return { seq: s.seq, nodes: s.nodes, fields: s.values };
}

/** Every replica pulls what it lacks; then each holds the server's tree. Returns that tree. */
async function converge(tree: string, replicas: Replica[]) {
  const server = await state(tree);
  for (const r of replicas) {
    await r.pull();
    expect(replay(r.ops), `replica ${r.id}`).toEqual({ nodes: server.nodes, fields: server.fields });
  }
  const parent = (id: string) => server.nodes.find((n) => n.id === id)?.parent;
  return { ...server, parent };
}

/** alice made ROOT > X > Y; bob and carol have seen it. */
async function setup(options: object = {}) {
  const tree = await newTree(options);
  const alice = new Replica(server, tree, 'alice');
  const bob = new Replica(server, tree, 'bob');
  const carol = new Replica(server, tree, 'carol');
  await alice.push([move(ts(1), 'X', 'ROOT', 'x'), move(ts(2), 'Y', 'X', 'y')]);
  await bob.pull();
  await carol.pull();
  return { tree, alice, bob, carol };
}

describe('delete vs add child: X comes back, with the child', () => {
  test.each(['delete arrives first', 'add arrives first'])('%s', async (order) => {
    const { tree, alice, bob } = await setup();
    const del = () => alice.push([move(ts(10, 'alice'), 'X', 'TRASH', 't')]);
    const add = () => bob.push([move(ts(11, 'bob'), 'C', 'Y', 'c')]);
    if (order === 'delete arrives first') await del().then(add);
    else await add().then(del);
    const end = await converge(tree, [alice, bob]);
    expect(end.parent('X')).toBe('ROOT');
    expect(end.nodes.find((n) => n.id === 'X')?.pos).toBe('x');
    expect(end.parent('C')).toBe('Y');
    expect(end.seq).toBe(5);
  });
});

describe('delete vs set: X comes back with the new value', () => {
  test.each(['delete arrives first', 'set arrives first'])('%s', async (order) => {
    const { tree, alice, bob } = await setup();
    const del = () => alice.push([move(ts(10, 'alice'), 'X', 'TRASH', 't')]);
    const edit = () => bob.push([set(ts(11, 'bob'), 'Y', 'title', 'renamed')]);
    if (order === 'delete arrives first') await del().then(edit);
    else await edit().then(del);
    const end = await converge(tree, [alice, bob]);
    expect(end.parent('X')).toBe('ROOT');
    expect(end.fields).toEqual([{ node: 'Y', key: 'title', value: 'renamed' }]);
  });
});

describe('nested deletes: both are undone, top-down', () => {
  test.each(['deletes first', 'edit first'])('%s', async (order) => {
    const { tree, alice, bob, carol } = await setup();
    // carol deletes Y and then X, without having seen bob's new child in Y.
    const dels = () => carol.push([move(ts(10, 'carol'), 'Y', 'TRASH', 'ty'), move(ts(12, 'carol'), 'X', 'TRASH', 'tx')]);
    const add = () => bob.push([move(ts(11, 'bob'), 'C', 'Y', 'c')]);
    if (order === 'deletes first') await dels().then(add);
    else await add().then(dels);
    const end = await converge(tree, [alice, bob, carol]);
    expect([end.parent('X'), end.parent('Y'), end.parent('C')]).toEqual(['ROOT', 'X', 'Y']);
  });
});

describe('a delete after seeing the edit wins', () => {
  test('the edit was pulled before deleting', async () => {
    const { tree, alice, bob } = await setup();
    await bob.push([move(ts(11, 'bob'), 'C', 'Y', 'c')]);
    await alice.pull();
    await alice.push([move(ts(12, 'alice'), 'X', 'TRASH', 't')]);
    const end = await converge(tree, [alice, bob]);
    expect(end.parent('X')).toBe('TRASH');
    expect(end.seq).toBe(4);
  });

  test('deleting again after the restore was seen', async () => {
    const { tree, alice, bob } = await setup();
    await alice.push([move(ts(10, 'alice'), 'X', 'TRASH', 't')]);
    await bob.push([move(ts(11, 'bob'), 'C', 'Y', 'c')]);
    await alice.pull();
    const restore = alice.ops.find((op) => op.ts.endsWith('.server'))!;
    expect(restore).toMatchObject({ type: 'move', node: 'X', parent: 'ROOT', pos: 'x' });
    // alice's hybrid clock has passed the restore's ts.
    await alice.push([move(formatTs(tsWall(restore.ts) + 1, 0, 'alice'), 'X', 'TRASH', 't2')]);
    const end = await converge(tree, [alice, bob]);
    expect(end.parent('X')).toBe('TRASH');
  });
});

test('a delete-wins tree keeps the delete, in both orders', async () => {
  for (const order of ['delete first', 'add first']) {
    const { tree, alice, bob } = await setup({ deletes: 'win' });
    const del = () => alice.push([move(ts(10, 'alice'), 'X', 'TRASH', 't')]);
    const add = () => bob.push([move(ts(11, 'bob'), 'C', 'Y', 'c')]);
    if (order === 'delete first') await del().then(add);
    else await add().then(del);
    const end = await converge(tree, [alice, bob]);
    expect(end.parent('X'), order).toBe('TRASH');
    expect(end.parent('C'), order).toBe('Y');
  }
});

test('nobody may push as replica server', async () => {
  const tree = await newTree();
  const res = await server.call('POST', `/v1/trees/${tree}/push`, {
    token: await server.token(),
    body: { replica: 'server', seen: 0, floor: ts(1, 'server'), ops: [move(ts(1, 'server'), 'X', 'ROOT')] },
  });
  expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  expect((await state(tree)).seq).toBe(0);
});
