/** Reads a whole snapshot with the client's reader into arrays, checking progress on the way. */
import { readSnapshot, type ByteSource, type ReadSnapshotOptions } from '../../client/snapshot-reader.ts';
import type { FieldRow, MoveRow, NodeRow, SnapshotHeader } from '../../protocol/snapshot-format.ts';

export interface ReadBack {
  header: SnapshotHeader;
  nodes: NodeRow[];
  fields: FieldRow[];
  moves: MoveRow[];
  batches: number;
}

export async function readAll(source: ByteSource, opts: ReadSnapshotOptions = {}): Promise<ReadBack> {
  let header: SnapshotHeader | undefined;
  const out = { nodes: [] as NodeRow[], fields: [] as FieldRow[], moves: [] as MoveRow[] };
  let batches = 0;
  let lastRows = 0;
  for await (const event of readSnapshot(source, opts)) {
    if (event.kind === 'header') {
      if (header) throw new Error('two headers');
      header = event.header;
      continue;
    }
    batches++;
    if (event.rows.length === 0 || event.rows.length > (opts.batchSize ?? 10_000)) {
      throw new Error(`a batch of ${event.rows.length} rows`);
    }
    if (event.progress.rows !== lastRows + event.rows.length) throw new Error('progress does not add up');
    lastRows = event.progress.rows;
    // Typed per section by the event's discriminant.
    if (event.section === 'nodes') out.nodes.push(...event.rows);
    else if (event.section === 'fields') out.fields.push(...event.rows);
    else out.moves.push(...event.rows);
  }
  if (!header) throw new Error('no header');
  return { header, ...out, batches };
}
