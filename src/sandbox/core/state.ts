/** In-memory state of one sandbox: tables, PRNG, clock, ledger, events. */
import type { LedgerEntry, SandboxApi, SandboxConfig, SbEvent, SbTable } from './types.js';
import { mulberry32 } from './util.js';

export class MemTable<T extends { id: number }> implements SbTable<T> {
  private readonly rows = new Map<number, T>();
  private seq = 0;

  nextId(): number {
    this.seq += 1;
    return this.seq;
  }

  insert(row: T): T {
    if (this.rows.has(row.id)) throw new Error(`duplicate id ${row.id}`);
    this.rows.set(row.id, row);
    if (row.id > this.seq) this.seq = row.id;
    return row;
  }

  get(id: number): T | undefined {
    return this.rows.get(id);
  }

  update(id: number, patch: Partial<T>): T | undefined {
    const cur = this.rows.get(id);
    if (!cur) return undefined;
    // Merge; a key whose patch value is `undefined` is removed from the row.
    const next = { ...cur, ...patch, id } as Record<string, unknown>;
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
    this.rows.set(id, next as T);
    return next as T;
  }

  delete(id: number): boolean {
    return this.rows.delete(id);
  }

  all(): T[] {
    return [...this.rows.values()];
  }

  size(): number {
    return this.rows.size;
  }
}

const MAX_EVENTS = 10_000;

export class SandboxState implements SandboxApi {
  baseUrl = '';
  private tables = new Map<string, MemTable<{ id: number }>>();
  private rnd: () => number;
  readonly ledger: LedgerEntry[] = [];
  readonly events: SbEvent[] = [];
  private readonly listeners = new Set<(e: SbEvent) => void>();

  constructor(private readonly getConfig: () => SandboxConfig) {
    this.rnd = mulberry32(getConfig().seed);
  }

  table<T extends { id: number }>(name: string): SbTable<T> {
    let t = this.tables.get(name);
    if (!t) {
      t = new MemTable<{ id: number }>();
      this.tables.set(name, t);
    }
    return t as unknown as SbTable<T>;
  }

  random(): number {
    return this.rnd();
  }

  now(): Date {
    return new Date();
  }

  emit(eventKey: string, objectType: string, id: number | string): void {
    const ev: SbEvent = { eventKey, objectType, id, at: this.now().toISOString() };
    this.events.push(ev);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        // a listener's failure never breaks the request that emitted
      }
    }
  }

  record(kind: LedgerEntry['kind'], data: Record<string, unknown>): void {
    this.ledger.push({ kind, at: this.now().toISOString(), data: { ...data } });
  }

  onEvent(listener: (event: SbEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  config(): SandboxConfig {
    return this.getConfig();
  }

  /** Wipe tables, ledger and events and re-seed the PRNG (listeners stay). */
  wipe(): void {
    this.tables = new Map();
    this.ledger.length = 0;
    this.events.length = 0;
    this.rnd = mulberry32(this.getConfig().seed);
  }
}
