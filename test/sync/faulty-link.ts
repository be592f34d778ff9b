/**
 * A faulty link for the sync simulation: a real HTTP proxy on its own port in front of the
 * server, which every client talks to instead of the server. It forwards requests, passes the
 * events WebSocket through byte for byte, and, drawn from a seed, spoils some pushes:
 *
 * - `lose-answer`: the push reaches the server, its answer never reaches the client (the
 *   connection is cut), so the client sends the same batch again: a duplicate delivery;
 * - `replay`: the push is forwarded and answered, and a copy of it is sent to the server again
 *   once the next push through the link has been answered: a duplicate that arrives after
 *   newer pushes, out of order. Its answer goes nowhere.
 *
 * While the server is down (a restart) requests get a cut connection, as with no link.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface FaultyLink {
  url: string;
  /** How many pushes were delivered twice, each way. */
  stats: { lostAnswers: number; replays: number };
  /** Sends the replays still held back now (before a restore: a delayed copy's life is short). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Held {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export async function startFaultyLink(server: string, rand: () => number, rates = { loseAnswer: 0.08, replay: 0.08 }): Promise<FaultyLink> {
  const target = new URL(server);
  const stats = { lostAnswers: 0, replays: 0 };
  let held: Held[] = [];
  let pushes = 0;

  const send = (h: Held) =>
    fetch(`${server}${h.path}`, { method: 'POST', headers: h.headers, body: h.body }).then(
      (res) => res.arrayBuffer(),
      () => undefined,
    );
  const flush = async () => {
    const now = held;
    held = [];
    for (const h of now) {
      stats.replays++;
      await send(h);
    }
  };

  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = req.url ?? '/';
      const push = req.method === 'POST' && path.endsWith('/push');
      // The second push is replayed and the third loses its answer, whatever the draws: each
      // fault happens in every run; later ones at random.
      const n = push ? ++pushes : 0;
      const r = !push ? 1 : n === 2 ? rates.loseAnswer : n === 3 ? 0 : rand();
      const fault = r < rates.loseAnswer ? 'lose-answer' : r < rates.loseAnswer + rates.replay ? 'replay' : 'forward';
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'content-type']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const body = Buffer.concat(chunks);
      const earlier = push ? held : [];
      if (push) held = [];
      let answer: Response;
      let bytes: Buffer;
      try {
        answer = await fetch(`${server}${path}`, { method: req.method, headers, ...(req.method === 'POST' ? { body } : {}) });
        bytes = Buffer.from(await answer.arrayBuffer());
      } catch {
        held.push(...earlier);
        res.socket?.destroy();
        return;
      }
      // The copies held back arrive now, after this newer push.
      for (const h of earlier) {
        stats.replays++;
        await send(h);
      }
      if (fault === 'replay') held.push({ path, headers, body });
      if (fault === 'lose-answer') {
        stats.lostAnswers++;
        res.socket?.destroy();
        return;
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        // fetch has decoded the body already.
        if (k !== 'content-encoding' && k !== 'content-length' && k !== 'transfer-encoding') out[k] = v;
      });
      res.writeHead(answer.status, out);
      res.end(bytes);
    });
  });

  // The events WebSocket: the upgrade request as it came, then bytes both ways.
  const tunnels = new Set<net.Socket>();
  proxy.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  });

  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    stats,
    flush,
    async close() {
      await flush();
      proxy.closeAllConnections();
      for (const t of tunnels) t.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
