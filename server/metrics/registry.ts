/**
 * A tiny Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format (version 0.0.4). Enough for /metrics without a dependency.
 */

export type Labels = Record<string, string>;

export interface GaugeSample {
  labels?: Labels;
  value: number;
}

interface Metric {
  render(): string[];
}

/** Series by label values, in first-seen order (stable output). */
class Series<T> {
  private readonly byKey = new Map<string, { labels: Labels; value: T }>();
  constructor(private readonly init: () => T) {}

  get(labels: Labels): T {
    const key = JSON.stringify(labels);
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { labels, value: this.init() };
      this.byKey.set(key, entry);
    }
    return entry.value;
  }

  entries(): Iterable<{ labels: Labels; value: T }> {
    return this.byKey.values();
  }
}

export class Counter implements Metric {
  private readonly series = new Series(() => ({ n: 0 }));
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    this.series.get(labels).n += by;
  }

  value(labels: Labels = {}): number {
    return this.series.get(labels).n;
  }

  render(): string[] {
    return [...this.series.entries()].map(({ labels, value }) => sample(this.name, labels, value.n));
  }
}

/** A gauge whose values are read when /metrics is scraped. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () => GaugeSample[],
  ) {}

  render(): string[] {
    return this.collect().map(({ labels = {}, value }) => sample(this.name, labels, value));
  }
}

export class Histogram implements Metric {
  private readonly series: Series<{ counts: number[]; sum: number; count: number }>;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {
    this.series = new Series(() => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }

  observe(value: number, labels: Labels = {}): void {
    const s = this.series.get(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.entries()) {
      this.buckets.forEach((le, i) => lines.push(sample(`${this.name}_bucket`, { ...labels, le: String(le) }, value.counts[i]!)));
      lines.push(sample(`${this.name}_bucket`, { ...labels, le: '+Inf' }, value.count));
      lines.push(sample(`${this.name}_sum`, labels, value.sum));
      lines.push(sample(`${this.name}_count`, labels, value.count));
    }
    return lines;
  }
}

export class Registry {
  private readonly metrics: Array<{ type: string; metric: Metric & { name: string; help: string } }> = [];

  counter(name: string, help: string): Counter {
    return this.add('counter', new Counter(name, help));
  }

  gauge(name: string, help: string, collect: () => GaugeSample[]): Gauge {
    return this.add('gauge', new Gauge(name, help, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add('histogram', new Histogram(name, help, buckets));
  }

  /** The text exposition format. */
  render(): string {
    const out: string[] = [];
    for (const { type, metric } of this.metrics) {
      out.push(`# HELP ${metric.name} ${metric.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      out.push(`# TYPE ${metric.name} ${type}`);
      out.push(...metric.render());
    }
    return `${out.join('\n')}\n`;
  }

  private add<M extends Metric & { name: string; help: string }>(type: string, metric: M): M {
    if (this.metrics.some((m) => m.metric.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push({ type, metric });
    return metric;
  }
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`;
}
