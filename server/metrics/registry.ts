/**
 * The server's Prometheus registry: prom-client underneath (the exposition format, label
 * escaping, histograms, and the process metrics operators expect: CPU, memory, event-loop
 * lag, GC, handles), behind the small interface the rest of the server was written against:
 * `counter.inc(labels, by)`, `histogram.observe(value, labels)`, gauges read at each scrape.
 *
 * Each Registry is its own prom-client registry, never the global one, so several servers in
 * one process (the tests start many) do not share or double-register series.
 */
import client from 'prom-client';

export type Labels = Record<string, string>;

export interface GaugeSample {
  labels?: Labels;
  value: number;
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

export interface RegistryOptions {
  /** Also collect Node's process metrics (`process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean;
}

export class Registry {
  private readonly registry = new client.Registry();

  constructor(opts: RegistryOptions = {}) {
    if (opts.processMetrics ?? true) client.collectDefaultMetrics({ register: this.registry });
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const c = new client.Counter({ name, help, labelNames, registers: [this.registry] });
    return { inc: (labels = {}, by = 1) => c.inc(labels, by) };
  }

  /** A gauge whose samples `collect` gives when /metrics is scraped. */
  gauge(name: string, help: string, collect: () => GaugeSample[], labelNames: readonly string[] = []): void {
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels = {}, value } of collect()) this.set(labels, value);
      },
    });
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    const h = new client.Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
    return { observe: (value, labels = {}) => h.observe(labels, value) };
  }

  /** The text exposition format (version 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
