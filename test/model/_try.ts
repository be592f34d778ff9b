import fc from 'fast-check';
import { arbHistory, arbReplicaSessions } from './arbitraries.ts';
import { replayState } from './reference.ts';
const hs = fc.sample(arbHistory(), { numRuns: 300 });
console.log('hist lens', hs.map(h=>h.length).join(','));
let moves = 0; let kinds: Record<string, number> = {};
for (const h of hs) { const { outcomes } = replayState(h); for (const o of outcomes.values()) { moves++; kinds[o] = (kinds[o] ?? 0) + 1; } }
console.log('moves', moves, kinds);
const ss = fc.sample(arbReplicaSessions(), { numRuns: 300 });
console.log('sess lens', ss.map(s=>s.ops.length).join(','));
moves = 0; kinds = {};
for (const s of ss) { const { outcomes } = replayState(s.ops); for (const o of outcomes.values()) { moves++; kinds[o] = (kinds[o] ?? 0) + 1; } }
console.log('sess moves', moves, kinds);
