/** The whole tree as JSON (`GET /state`), read in one REPEATABLE READ transaction so the seq,
 * the nodes and the values belong together. */
import type pg from 'pg';
import type { StateResponse } from '../../protocol/state.ts';
import { treeNotFound } from './trees.ts';

export async function readState(pool: pg.Pool, tree: string): Promise<StateResponse> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin isolation level repeatable read read only');
    try {
      const seq = await client.query<{ seq: string }>('select seq from treesync.trees where id = $1', [tree]);
      if (seq.rows.length === 0) throw treeNotFound(tree);
      const nodes = await client.query<StateResponse['nodes'][number]>(
        'select id, parent, pos from treesync.nodes where tree = $1 order by id collate "C"',
        [tree],
      );
      const values = await client.query<StateResponse['values'][number]>(
        `select node, key, value from treesync.fields
          where tree = $1 and value <> 'null'::jsonb
          order by node collate "C", key collate "C"`,
        [tree],
      );
      return { seq: Number(seq.rows[0]!.seq), nodes: nodes.rows, values: values.rows };
    } finally {
      await client.query('rollback').catch((e: Error) => (broken = e));
    }
  } finally {
    client.release(broken);
  }
}
