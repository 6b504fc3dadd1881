/**
 * The audit log: one JSON line per call and decision, appended to KEAP_AUDIT_LOG and fsync'd before
 * write() returns. Personal data in arguments is replaced by `sha256:<12 hex>`; ids, keys, paging,
 * numbers, booleans and enum constants are kept; secrets are dropped.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { sha256Hex } from './canonical.js';
import type { AuditApi, AuditRecord } from './types.js';

/** Keys whose values never reach the log, in any form. */
const SECRET_KEY =
  /(^|_)(secret|password|passwd|credential|authorization|api_?key|access_token|refresh_token|token|confirmation_token|human_secret)s?$/i;
/** Keys kept verbatim even though their name looks secret-ish. */
const KEEP_KEYS = new Set([
  'page_token',
  'next_page_token',
  'page_size',
  'idempotency_key',
  'key',
  'id',
  'order_by',
  'fields',
  'duplicate_option',
  'update_mask',
  'dry_run',
  'since',
  'until',
  'status',
  'type',
  'method',
  'event_key',
]);
/** Keys whose string values are personal or free text even when they look like enum constants. */
const PERSONAL_KEY =
  /name|email|phone|address|line|city|locality|region|postal|zip|birth|anniversary|note|body|content|text|title|subject|description|company|website|url|social|fax|job|spouse|nickname|filter|query|search/i;
const ENUM_VALUE = /^[A-Z][A-Z0-9_]{0,39}$/;

function isIdKey(key: string): boolean {
  return key === 'id' || key === 'key' || /_ids?$/.test(key) || /_key$/.test(key) || KEEP_KEYS.has(key);
}

export function hashValue(s: string): string {
  return `sha256:${sha256Hex(s).slice(0, 12)}`;
}

/** Replaces personal data in arguments by short hashes; drops secrets. Pure. */
export function redactArgs(value: unknown, key = ''): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (key !== '' && isIdKey(key)) return value;
    if (ENUM_VALUE.test(value) && !PERSONAL_KEY.test(key)) return value;
    return hashValue(value);
  }
  if (Array.isArray(value)) return value.map((v) => redactArgs(v, key));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(k) && !KEEP_KEYS.has(k)) continue;
      out[k] = redactArgs(v, k);
    }
    return out;
  }
  return hashValue(String(value));
}

export interface AuditOptions {
  /** JSON-lines file; undefined → records go to the logger (stderr) instead. */
  path?: string | undefined;
  logger: Logger;
  now?: () => number;
}

export class AuditLog implements AuditApi {
  private fd: number | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly path: string | undefined;

  constructor(opts: AuditOptions) {
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.path = opts.path;
    if (opts.path !== undefined && opts.path !== '') {
      mkdirSync(dirname(opts.path), { recursive: true });
      this.fd = openSync(opts.path, 'a', 0o600);
    }
  }

  /** The line as written (exported for tests and the CLI). */
  format(record: AuditRecord): string {
    const { args, ...rest } = record;
    const line: Record<string, unknown> = { time: new Date(this.now()).toISOString(), ...rest };
    line.args = redactArgs(args);
    return JSON.stringify(line);
  }

  write(record: AuditRecord): void {
    const line = this.format(record);
    if (this.fd === undefined) {
      if (this.path === undefined) this.logger.info({ audit: JSON.parse(line) as unknown }, 'audit');
      else throw new Error('audit log is closed');
      return;
    }
    const buf = Buffer.from(`${line}\n`, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    fdatasyncSync(this.fd); // data + the size change: what a reader after a crash needs
  }

  close(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      closeSync(fd);
    }
  }
}
