// The Prometheus text format of the tiny registry.
import { expect, test } from 'vitest';
import { Registry } from '../../server/metrics/registry.ts';

test('counters, gauges and histograms render in the text exposition format', () => {
  const registry = new Registry();
  const requests = registry.counter('demo_requests_total', 'Requests.');
  const latency = registry.histogram('demo_seconds', 'Latency.', [0.1, 1]);
  registry.gauge('demo_open', 'Open things.', () => [{ value: 3 }, { labels: { kind: 'a"b\\c\nd' }, value: 1 }]);

  requests.inc({ route: '/x', status: '200' });
  requests.inc({ route: '/x', status: '200' }, 2);
  requests.inc({ route: '/y', status: '404' });
  latency.observe(0.05, { route: '/x' });
  latency.observe(0.5, { route: '/x' });
  latency.observe(5, { route: '/x' });

  expect(registry.render()).toBe(
    [
      '# HELP demo_requests_total Requests.',
      '# TYPE demo_requests_total counter',
      'demo_requests_total{route="/x",status="200"} 3',
      'demo_requests_total{route="/y",status="404"} 1',
      '# HELP demo_seconds Latency.',
      '# TYPE demo_seconds histogram',
      'demo_seconds_bucket{route="/x",le="0.1"} 1',
      'demo_seconds_bucket{route="/x",le="1"} 2',
      'demo_seconds_bucket{route="/x",le="+Inf"} 3',
      'demo_seconds_sum{route="/x"} 5.55',
      'demo_seconds_count{route="/x"} 3',
      '# HELP demo_open Open things.',
      '# TYPE demo_open gauge',
      'demo_open 3',
      'demo_open{kind="a\\"b\\\\c\\nd"} 1',
      '',
    ].join('\n'),
  );
});

test('a metric name is registered once', () => {
  const registry = new Registry();
  registry.counter('x_total', 'X.');
  expect(() => registry.counter('x_total', 'X.')).toThrow('metric x_total registered twice');
});
