/** What every benchmark's results file says about where it ran, and how it is written. */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';

/** The machine, in one line: cores, memory, OS, Node. */
export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

/** The Postgres a benchmark ran against, as the cluster kind of test/pg/cluster.ts names it,
 * with its version when known (else the default major, 18). */
export function postgres(kind: string, version = '18'): string {
  return kind === 'env' ? `DATABASE_URL (Postgres ${version})` : `${kind} Postgres ${version}, durable settings (fsync on)`;
}

export interface ResultRow {
  case: string;
  figure: string;
  detail: string;
}

/** Prints a results table under `intro` and writes it to bench/results/<name>.md. */
export async function writeResults(name: string, intro: string[], rows: ResultRow[]): Promise<void> {
  const text = [
    `# bench:${name} — ${new Date().toISOString().slice(0, 10)}`,
    '',
    ...intro,
    '',
    '| case | result | detail |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.case} | ${r.figure} | ${r.detail} |`),
    '',
  ].join('\n');
  console.log(text);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(new URL(`./results/${name}.md`, import.meta.url), text);
}
