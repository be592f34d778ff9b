/**
 * The server's metrics, served at /metrics, with Node's process metrics beside them
 * (registry.ts). The names below are stable: dashboards and alerts use them. Route labels are route patterns
 * (`/v1/trees/:tree/push`), never tree ids, so the series stay few and reveal no names.
 */
import type pg from 'pg';
import { type Counter, type Histogram, Registry } from './registry.ts';

export interface ServerMetrics {
  registry: Registry;
  /** `treesync_http_requests_total{route,method,status}` */
  requests: Counter;
  /** `treesync_http_request_duration_seconds{route,method}` */
  requestSeconds: Histogram;
  /** `treesync_ops_merged_total`: operations stored by pushes. */
  opsMerged: Counter;
  /** `treesync_ops_duplicate_total`: pushed operations that were stored already. */
  opsDuplicate: Counter;
  /** `treesync_push_groups_total{merge}`: transactions of pushes (group commit), by how they
   * merged: `alone` (one push), `union` (several, as one batch), `each` (several, one by one). */
  pushGroups: Counter;
  /** `treesync_pokes_sent_total` */
  pokesSent: Counter;
  /** `treesync_rate_limited_total`: requests answered 429. */
  rateLimited: Counter;
  /** `treesync_snapshot_bytes_total`: bytes of snapshot streams sent (the snapshot route adds). */
  snapshotBytes: Counter;
  /** `treesync_snapshot_duration_seconds`: one observation per snapshot stream. */
  snapshotSeconds: Histogram;
}

export interface MetricSources {
  /** Connection pools by name (`main`, `snapshot`), read at each scrape. */
  pools: Record<string, pg.Pool>;
  /** Open WebSockets (event subscribers), read at each scrape. */
  openWebSockets: () => number;
  /** Whether the LISTEN connection is up (1) or reconnecting (0). */
  listening: () => boolean;
}

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SNAPSHOT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createMetrics(sources: MetricSources): ServerMetrics {
  const registry = new Registry();
  const metrics: ServerMetrics = {
    registry,
    requests: registry.counter('treesync_http_requests_total', 'HTTP requests answered, by route pattern, method and status.', [
      'route',
      'method',
      'status',
    ]),
    requestSeconds: registry.histogram(
      'treesync_http_request_duration_seconds',
      'Time from request to response headers, by route pattern and method.',
      LATENCY_BUCKETS,
      ['route', 'method'],
    ),
    opsMerged: registry.counter('treesync_ops_merged_total', 'Operations stored by pushes.'),
    opsDuplicate: registry.counter('treesync_ops_duplicate_total', 'Pushed operations that were already stored.'),
    pushGroups: registry.counter(
      'treesync_push_groups_total',
      'Transactions of pushes (group commit): one push alone, several as one batch (union), several one by one (each).',
      ['merge'],
    ),
    pokesSent: registry.counter('treesync_pokes_sent_total', 'Poke messages sent to WebSocket subscribers.'),
    rateLimited: registry.counter('treesync_rate_limited_total', 'Requests refused with 429.'),
    snapshotBytes: registry.counter('treesync_snapshot_bytes_total', 'Bytes of snapshot streams sent.'),
    snapshotSeconds: registry.histogram(
      'treesync_snapshot_duration_seconds',
      'Duration of snapshot streams, first byte to last.',
      SNAPSHOT_BUCKETS,
    ),
  };
  registry.gauge('treesync_websockets_open', 'Open event WebSockets.', () => [{ value: sources.openWebSockets() }]);
  registry.gauge('treesync_listener_up', 'Whether the LISTEN connection for pokes is up.', () => [
    { value: sources.listening() ? 1 : 0 },
  ]);
  registry.gauge(
    'treesync_db_pool_connections',
    'Database pool connections by pool and state.',
    () =>
      Object.entries(sources.pools).flatMap(([pool, p]) => [
        { labels: { pool, state: 'in_use' }, value: p.totalCount - p.idleCount },
        { labels: { pool, state: 'idle' }, value: p.idleCount },
        { labels: { pool, state: 'waiting' }, value: p.waitingCount },
      ]),
    ['pool', 'state'],
  );
  return metrics;
}
