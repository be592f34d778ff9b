/**
 * `npm run demo`: a treesync server (server/main.ts, exactly as `npm start` runs it: embedded
 * Postgres when there is no DATABASE_URL, the same environment variables) and the outliner page
 * beside it (serve-page.ts), then the URL to open.
 *
 * The server runs as a child process so its own start, signal handling and graceful stop are
 * the real ones. Ctrl-C (or SIGTERM) stops the page server and the server, then exits with the
 * server's exit code; if the server ends by itself, so does the demo.
 *
 * `DEMO_PORT` (default 8788; 0 picks a free one): the page's port. A fixed port keeps the
 * page's origin, and so its OPFS replicas, from one run to the next.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDemoPage, type DemoPage } from './serve-page.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);
const SERVER_MAIN = fileURLToPath(new URL('../server/main.ts', import.meta.url));

const pagePort = Number(process.env.DEMO_PORT ?? '8788');
if (!Number.isInteger(pagePort) || pagePort < 0 || pagePort > 65535) {
  say(`demo: DEMO_PORT=${JSON.stringify(process.env.DEMO_PORT)}: not a port (0..65535)`);
  process.exit(2);
}

const server = spawn(process.execPath, ['--import', 'tsx', SERVER_MAIN], { stdio: ['ignore', 'inherit', 'pipe'] });
let page: DemoPage | undefined;
let stopping = false;

const serverUrl = new Promise<string>((resolve, reject) => {
  let text = '';
  server.stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    text += chunk.toString('utf8');
    const url = /treesync listening on (\S+)/.exec(text)?.[1];
    if (url && text.includes('treesync: ready')) resolve(url);
  });
  server.once('exit', () => reject(new Error('the server ended before it was ready')));
});

server.once('exit', (code) => {
  void page?.close().finally(() => process.exit(stopping ? (code ?? 0) : 1));
  if (!page) process.exit(stopping ? (code ?? 0) : 1);
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void page?.close();
    // A terminal's Ctrl-C reaches the server too; it counts the two as one request to stop.
    server.kill('SIGTERM');
  });
}

try {
  const url = await serverUrl;
  page = await startDemoPage(url, pagePort);
  say(
    [
      '',
      `demo: the outliner is at ${page.url}`,
      `  open it in two tabs (or two browsers) to watch them sync; ${page.url}?tree=other for another tree.`,
      '  A second tab of the same tree in the same browser keeps its replica in memory (one tab owns the OPFS one).',
      '  Ctrl-C stops the demo.',
    ].join('\n'),
  );
} catch (err) {
  say(`demo: could not start: ${err instanceof Error ? err.message : String(err)}`);
  stopping = true;
  server.kill('SIGTERM');
}
