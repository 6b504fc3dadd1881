/** Test control surface state: per-route request counters and fault injection rules. */

export interface FaultRule {
  readonly id: number;
  readonly method?: string;
  /** Route template ('/v2/orders') or glob with '*' matched against the template and the concrete path. */
  readonly path: string;
  readonly status?: number;
  readonly body?: unknown;
  remaining: number;
  readonly latencyMs?: number;
  readonly reset?: 'before' | 'after';
  readonly malformed?: boolean;
}

export interface RouteCounter {
  /** Every request that reached the sandbox for this route. */
  count: number;
  /** Requests whose handler ran and answered < 400 (they changed state if the route writes). */
  effective: number;
  /** Requests that had no effect (faulted before processing, throttled, auth failures, 4xx/5xx). */
  noEffect: number;
  rateLimited: number;
  authFailed: number;
  faulted: number;
  byStatus: Record<string, number>;
}

function newCounter(): RouteCounter {
  return { count: 0, effective: 0, noEffect: 0, rateLimited: 0, authFailed: 0, faulted: 0, byStatus: {} };
}

export type Outcome = 'effective' | 'noEffect';

export class Counters {
  private routes = new Map<string, RouteCounter>();
  private totals = newCounter();

  record(
    key: string,
    status: number | 'reset',
    outcome: Outcome,
    flags: { rateLimited?: boolean; authFailed?: boolean; faulted?: boolean },
  ): void {
    let c = this.routes.get(key);
    if (!c) {
      c = newCounter();
      this.routes.set(key, c);
    }
    for (const x of [c, this.totals]) {
      x.count += 1;
      if (outcome === 'effective') x.effective += 1;
      else x.noEffect += 1;
      if (flags.rateLimited) x.rateLimited += 1;
      if (flags.authFailed) x.authFailed += 1;
      if (flags.faulted) x.faulted += 1;
      const s = String(status);
      x.byStatus[s] = (x.byStatus[s] ?? 0) + 1;
    }
  }

  snapshot(): { total: number; totals: RouteCounter; routes: Record<string, RouteCounter> } {
    const routes: Record<string, RouteCounter> = {};
    for (const [k, v] of [...this.routes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      routes[k] = structuredClone(v);
    }
    return { total: this.totals.count, totals: structuredClone(this.totals), routes };
  }

  clear(): void {
    this.routes.clear();
    this.totals = newCounter();
  }
}

function globToRe(glob: string): RegExp {
  const src = glob
    .split('*')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${src}$`);
}

export class Faults {
  private rules: FaultRule[] = [];
  private seq = 0;

  add(spec: Omit<FaultRule, 'id' | 'remaining'> & { count?: number }): FaultRule {
    this.seq += 1;
    const { count, ...rest } = spec;
    const rule: FaultRule = { ...rest, id: this.seq, remaining: count ?? 1 };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  clear(): void {
    this.rules = [];
  }

  /** Take (consume one use of) the first rule matching this request, if any. */
  take(method: string, template: string | undefined, path: string): FaultRule | undefined {
    for (const r of this.rules) {
      if (r.method && r.method.toUpperCase() !== method) continue;
      const re = globToRe(r.path);
      if (!(template !== undefined && re.test(template)) && !re.test(path)) continue;
      r.remaining -= 1;
      if (r.remaining <= 0) this.rules = this.rules.filter((x) => x !== r);
      return r;
    }
    return undefined;
  }
}
