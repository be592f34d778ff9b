// The registry's small interface over prom-client: the Prometheus text format of counters,
// gauges read at scrape time and histograms, the process metrics beside them, and registries
// that stay apart.
import { expect, test } from 'vitest';
import { Registry } from '../../server/metrics/registry.ts';

test('counters, gauges and histograms render in the text exposition format', async () => {
  const registry = new Registry({ processMetrics: false });
  const requests = registry.counter('demo_requests_total', 'Requests.', ['route', 'status']);
  const latency = registry.histogram('demo_seconds', 'Latency.', [0.1, 1], ['route']);
  let open = 3;
  registry.gauge('demo_open', 'Open things.', () => [{ value: open }, { labels: { kind: 'a"b\\c\nd' }, value: 1 }], ['kind']);

  requests.inc({ route: '/x', status: '200' });
  requests.inc({ route: '/x', status: '200' }, 2);
  requests.inc({ route: '/y', status: '404' });
  latency.observe(0.05, { route: '/x' });
  latency.observe(0.5, { route: '/x' });
  latency.observe(5, { route: '/x' });

  const text = await registry.render();
  for (const line of [
    '# HELP demo_requests_total Requests.',
    '# TYPE demo_requests_total counter',
    'demo_requests_total{route="/x",status="200"} 3',
    'demo_requests_total{route="/y",status="404"} 1',
    '# TYPE demo_seconds histogram',
    'demo_seconds_bucket{le="0.1",route="/x"} 1',
    'demo_seconds_bucket{le="1",route="/x"} 2',
    'demo_seconds_bucket{le="+Inf",route="/x"} 3',
    'demo_seconds_sum{route="/x"} 5.55',
    'demo_seconds_count{route="/x"} 3',
    '# TYPE demo_open gauge',
    'demo_open 3',
    'demo_open{kind="a\\"b\\\\c\\nd"} 1',
  ]) {
    expect(text.split('\n')).toContain(line);
  }
  // Gauges are read at each scrape.
  open = 4;
  expect((await registry.render()).split('\n')).toContain('demo_open 4');
  expect(registry.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
});

test("Node's process metrics come along by default", async () => {
  const text = await new Registry().render();
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds', 'nodejs_heap_size_used_bytes']) {
    expect(text).toContain(`# TYPE ${name} `);
  }
});

test('a metric name is registered once per registry; registries are apart', () => {
  const a = new Registry({ processMetrics: false });
  a.counter('x_total', 'X.');
  expect(() => a.counter('x_total', 'X.')).toThrow(/x_total/);
  const b = new Registry({ processMetrics: false });
  expect(() => b.counter('x_total', 'X.')).not.toThrow();
});

test('a label that was not declared is a bug caught at once', () => {
  const registry = new Registry({ processMetrics: false });
  const c = registry.counter('y_total', 'Y.', ['route']);
  expect(() => c.inc({ rout: '/x' })).toThrow(/not included in initial labelset/);
});
