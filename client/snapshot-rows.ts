/**
 * The row decoder of each snapshot section: one COPY tuple to one row object whose keys are the
 * table's columns (SECTIONS in protocol/snapshot-format.ts lists them; the two must agree).
 */
import { decodeBool, decodeJsonbText, decodeNullableText, decodeText } from './copy-decode.ts';
import type { TupleDecoder } from './copy-parser.ts';
import type { FieldRow, MoveRow, NodeRow, SectionName, SectionRows } from '../protocol/snapshot-format.ts';

const nodeRow: TupleDecoder<NodeRow> = (b, s, l) => ({
  id: decodeText(b, s[0]!, l[0]!),
  parent: decodeNullableText(b, s[1]!, l[1]!),
  pos: decodeText(b, s[2]!, l[2]!),
});

const fieldRow: TupleDecoder<FieldRow> = (b, s, l) => ({
  node: decodeText(b, s[0]!, l[0]!),
  key: decodeText(b, s[1]!, l[1]!),
  value: decodeJsonbText(b, s[2]!, l[2]!),
  ts: decodeText(b, s[3]!, l[3]!),
});

const moveRow: TupleDecoder<MoveRow> = (b, s, l) => ({
  ts: decodeText(b, s[0]!, l[0]!),
  node: decodeText(b, s[1]!, l[1]!),
  parent: decodeText(b, s[2]!, l[2]!),
  pos: decodeText(b, s[3]!, l[3]!),
  old_parent: decodeNullableText(b, s[4]!, l[4]!),
  old_pos: decodeNullableText(b, s[5]!, l[5]!),
  applied: decodeBool(b, s[6]!, l[6]!),
});

export const ROW_DECODERS: { [S in SectionName]: TupleDecoder<SectionRows[S]> } = {
  nodes: nodeRow,
  fields: fieldRow,
  moves: moveRow,
};
