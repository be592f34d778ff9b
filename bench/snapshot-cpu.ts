/**
 * CPU accounting for bench:snapshot on Linux (/proc): how much CPU each part of the benchmark
 * used during a run (the server process; the Postgres cluster with every backend and parallel
 * worker; the reader reads its own with process.cpuUsage), and how much the rest of the machine
 * did meanwhile. On a shared 2-core
 * machine a run that overlaps someone else's work measures them too; the benchmark repeats such
 * runs rather than report them. Elsewhere (no /proc) it measures nothing and accepts every run.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Jiffies per second of /proc times: USER_HZ, 100 on every Linux Node runs on. */
const HZ = 100;

export interface CpuReading {
  /** Seconds of CPU used by all processes since boot. */
  machine: number;
  /** Seconds of CPU of each named process tree (itself, its descendants, and its children
   * that have exited and been reaped). */
  trees: Record<string, number>;
}

/** Reads the CPU used so far, or undefined where /proc is not there. */
export function readCpu(roots: Record<string, number | undefined>): CpuReading | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
  const [user, nice, system, , , irq, softirq, steal] = stat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const machine = (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / HZ;
  const procs = new Map<number, { ppid: number; self: number; children: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command may contain spaces and parentheses: fields start after the last ')'.
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(name), {
        ppid: Number(f[1]),
        self: (Number(f[11]) + Number(f[12])) / HZ,
        children: (Number(f[13]) + Number(f[14])) / HZ,
      });
    } catch {
      // Exited while we looked: its time went to its parent's `children`.
    }
  }
  const trees: Record<string, number> = {};
  for (const [label, root] of Object.entries(roots)) {
    if (root === undefined) continue;
    const tree = new Set([root]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, p] of procs) {
        if (!tree.has(pid) && tree.has(p.ppid)) {
          tree.add(pid);
          grew = true;
        }
      }
    }
    trees[label] = [...tree].reduce((sum, pid) => sum + (procs.get(pid) ? procs.get(pid)!.self + procs.get(pid)!.children : 0), 0);
  }
  return { machine, trees };
}

/** The pid of the Postgres server listening on `url`'s port on this machine, if it is here. */
export function postmasterPid(url: string): number | undefined {
  const port = new URL(url).port;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('-p');
      if (args[0]?.endsWith('postgres') && at >= 0 && args[at + 1] === port) return Number(name);
    } catch {
      // gone
    }
  }
  return undefined;
}
