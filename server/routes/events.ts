/**
 * `GET /v1/trees/:tree/events`: a WebSocket on which the server sends `{"type":"poke","seq":N}`
 * when the tree's seq grows (whichever server process stored the ops: seq-listener.ts), and
 * once right after connecting with the seq then. Token as `?token=` (or the header).
 *
 * The first seq is read after subscribing, not before: a push committed in between is then
 * either in that read or poked, never lost (the hub drops a seq not above the last sent).
 */
import { upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import type { WebSocket } from 'ws';
import { TreesyncError } from '../../protocol/errors.ts';
import { allow } from '../auth.ts';
import { treeSeq } from '../db/trees.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import type { Subscriber } from '../pokes/poke-hub.ts';

export function eventsRoutes(deps: AppDeps): Hono<AppEnv> {
  const { pool, pokes, logger } = deps;
  const app = new Hono<AppEnv>();

  app.get(
    '/v1/trees/:tree/events',
    allow('read'),
    async (c, next) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new TreesyncError('upgrade_required', 'this endpoint is a WebSocket: connect with Upgrade: websocket');
      }
      await treeSeq(pool, c.req.param('tree')); // 404 before upgrading
      await next();
    },
    upgradeWebSocket((c) => {
      const tree = c.req.param('tree')!;
      let sub: Subscriber | undefined;
      return {
        onOpen(_event, ws) {
          // @hono/node-server runs on the `ws` package: its socket has ping, pong and terminate.
          const socket = ws.raw as unknown as WebSocket;
          const subscriber = pokes.subscribe(tree, socket);
          sub = subscriber;
          socket.on('pong', () => pokes.pong(subscriber));
          treeSeq(pool, tree).then(
            (seq) => pokes.offer(subscriber, seq),
            (err: unknown) => logger.warn('could not read the seq for a new subscriber', { tree, err }),
          );
        },
        onClose() {
          if (sub) pokes.unsubscribe(sub);
        },
        onError(event) {
          logger.debug('websocket error', { tree, event: String(event) });
        },
      };
    }),
  );

  return app;
}
