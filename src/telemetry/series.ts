/**
 * Counters and histograms for the request path, exposed through prom-client's registry (they
 * implement its metric interface: `name`, `help`, `type`, `get()`), so prom-client writes the
 * exposition format and adds the process, event-loop and GC metrics beside them.
 *
 * prom-client's own label children hash their label object into a string and look it up on every
 * observation, and find a histogram bucket through a number-keyed object; these bind a label set
 * once (`child`) and then record with a scan and additions into typed arrays: nothing is allocated
 * per request (docs/decisions.md, "Metrics: prom-client's registry, bound series on the hot path").
 */

/** One sample as prom-client's registry formats it. */
export interface Sample {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

/** A metric's samples, as prom-client's registry reads them. */
export interface Collected {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values: readonly Sample[];
  readonly aggregator: 'sum';
}

/** What prom-client's Registry.registerMetric accepts. */
export interface RegistryMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  get(): Collected | Promise<Collected>;
  reset(): void;
}

const labelObject = (names: readonly string[], values: readonly string[]): Record<string, string> => {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
  return labels;
};

/** One label set's counter. */
export class CounterCell {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(by = 1): void {
    this.value += by;
  }
}

/** Label sets are looked up by their values joined with a separator no config name holds. */
const SEP = '\u0000';

export class CounterFamily<L extends string> implements RegistryMetric {
  readonly type = 'counter';
  private readonly cells = new Map<string, CounterCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
  ) {}

  /** The cell of these label values (in `labelNames` order): keep it, and count on it. */
  child(...values: string[]): CounterCell {
    const key = values.join(SEP);
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new CounterCell(labelObject(this.labelNames, values));
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Counts on the cell of these labels, found by their key: for label sets a request makes up as it goes (a decision's exclusions). */
  inc(labels: Readonly<Record<L, string>>, by = 1): void {
    const cell = this.cells.get(this.keyOf(labels));
    if (cell !== undefined) cell.inc(by);
    else this.child(...this.labelNames.map((l) => labels[l])).inc(by);
  }

  /** The value for exactly these labels (tests and the admin API). */
  valueOf(labels: Readonly<Record<L, string>>): number {
    return this.cells.get(this.keyOf(labels))?.value ?? 0;
  }

  private keyOf(labels: Readonly<Record<L, string>>): string {
    let key = labels[this.labelNames[0]!] ?? '';
    for (let i = 1; i < this.labelNames.length; i++) key += SEP + labels[this.labelNames[i]!];
    return key;
  }

  get(): Collected {
    return { name: this.name, help: this.help, type: this.type, values: [...this.cells.values()].map((c) => ({ labels: c.labels, value: c.value })), aggregator: 'sum' };
  }

  reset(): void {
    this.cells.clear();
  }
}

/** One label set's histogram: a count per bucket (not cumulative), the sum and the count. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]! += 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

export class HistogramFamily<L extends string> implements RegistryMetric {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;
  private readonly cells = new Map<string, HistogramCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    bounds: readonly number[],
  ) {
    this.bounds = Float64Array.from(bounds);
  }

  child(...values: string[]): HistogramCell {
    const key = values.join(SEP);
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new HistogramCell(this.bounds, labelObject(this.labelNames, values));
      this.cells.set(key, cell);
    }
    return cell;
  }

  get(): Collected {
    const values: Sample[] = [];
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...cell.labels, le: this.bounds[i]! }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...cell.labels, le: '+Inf' }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: cell.labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: cell.labels, value: cell.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  reset(): void {
    this.cells.clear();
  }
}
