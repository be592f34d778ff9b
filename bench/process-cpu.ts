/**
 * CPU time of the Postgres a benchmark started (embedded, a child of this process): the
 * postmaster's own and its reaped children's, plus its live children's (backends), from
 * /proc. CPU time is far less disturbed by other load on the machine than wall time.
 * Undefined where it cannot be read (not Linux, or a Postgres not started by this process).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Stat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, ticks */
  own: number;
  /** cutime + cstime (reaped children), ticks */
  children: number;
}

function stat(pid: string): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' '); // f[0] is field 3 (state)
  return { pid: Number(pid), ppid: Number(f[1]), comm, own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

/** Milliseconds of CPU used so far by the Postgres processes this process started. */
export function postgresCpuMs(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  const stats = pids.map(stat).filter((s): s is Stat => s !== undefined);
  const postmasters = stats.filter((s) => s.ppid === process.pid && s.comm.startsWith('postgres'));
  if (postmasters.length === 0) return undefined;
  let ticks = 0;
  for (const pm of postmasters) {
    ticks += pm.own + pm.children;
    for (const s of stats) if (s.ppid === pm.pid) ticks += s.own;
  }
  return ticks * TICK_MS;
}
