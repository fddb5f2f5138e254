/**
 * The request latency histogram (route, method, status), recorded on every response. prom-client's
 * Histogram validates and hashes the labels of every observation (about half a microsecond, a
 * noticeable share of a Check); this one finds the series through nested maps of the label
 * values and counts into arrays. It is registered in the same Registry and reads exactly as a
 * prom-client Histogram with the same name, help, buckets and labels: the same series in the same
 * order (first observed first), cumulative `_bucket` lines with `le`, then `_sum` and `_count`.
 */
import type { Histogram, Registry } from "prom-client";

type LabelName = "route" | "method" | "status";
type Labels = Record<LabelName, string>;

interface Series {
  labels: Labels;
  /** Observations per bucket (not cumulative); values above the last bound are only counted. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** One exported sample, as prom-client's Histogram hands them to the Registry. */
interface Sample {
  labels: { le?: number | string };
  sharedLabels: Labels;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

interface Exported<V> {
  name: string;
  help: string;
  type: "histogram";
  values: V[];
  aggregator: "sum";
}

export class RouteLatencyHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series: Series[] = [];
  /** route → method → status → series. */
  private readonly index = new Map<string, Map<string, Map<number, Series>>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    // The Registry only reads name, help, type and aggregator and calls get() and reset().
    registry.registerMetric(this as unknown as Histogram<LabelName>);
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    let byMethod = this.index.get(route);
    if (!byMethod) this.index.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (!s) {
      s = { labels: { route, method, status: String(status) }, buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      byStatus.set(status, s);
      this.series.push(s);
    }
    s.sum += seconds;
    s.count += 1;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]!) {
        s.buckets[i]! += 1;
        break;
      }
    }
  }

  /** What the Registry formats (as prom-client's Histogram.getForPromString returns it). */
  async getForPromString(): Promise<Exported<Sample>> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.buckets[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Every sample with its series' labels merged in (as prom-client's Histogram.get, for JSON). */
  async get(): Promise<Exported<Omit<Sample, "sharedLabels">>> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }

  reset(): void {
    this.series.length = 0;
    this.index.clear();
  }
}
