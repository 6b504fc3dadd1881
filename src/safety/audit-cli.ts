/**
 * `keap-mcp audit [--agent A] [--tool T] [--since ISO|10m|2h|1d] [--tail N] [--file PATH]`: the audit log as a table.
 * An `intent` line and its `outcome` line (same call_id) are shown as one row; an intent without an outcome is
 * a call whose outcome is unknown because the server stopped before it could record it.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const USAGE =
  'usage: keap-mcp audit [--agent NAME] [--tool NAME] [--decision D] [--since ISO|30s|10m|2h|7d] [--tail N] [--file PATH]\n' +
  '  reads the JSON-lines audit log named by KEAP_AUDIT_LOG (or --file) and prints it as a table.\n';

interface Filters {
  agent?: string;
  tool?: string;
  decision?: string;
  sinceMs?: number;
  tail?: number;
  file?: string;
}

export function parseSince(s: string, now: number): number | undefined {
  const m = /^(\d+)\s*([smhd])$/.exec(s.trim());
  if (m !== null) {
    const n = Number(m[1]);
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
    return now - n * unit;
  }
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function parseArgs(argv: readonly string[], now: number): Filters | string {
  const f: Filters = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const take = (): string | undefined => (eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i]);
    if (name === '-h' || name === '--help') return 'help';
    const v = take();
    if (v === undefined) return `missing value for ${name}`;
    switch (name) {
      case '--agent':
        f.agent = v;
        break;
      case '--tool':
        f.tool = v;
        break;
      case '--decision':
        f.decision = v;
        break;
      case '--file':
        f.file = v;
        break;
      case '--since': {
        const t = parseSince(v, now);
        if (t === undefined) return `--since: "${v}" is neither an ISO time nor a duration like 10m, 2h, 7d`;
        f.sinceMs = t;
        break;
      }
      case '--tail': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) return `--tail: "${v}" is not a positive integer`;
        f.tail = n;
        break;
      }
      default:
        return `unknown option ${name}`;
    }
  }
  return f;
}

export type Row = Record<string, unknown>;

export const UNKNOWN = 'outcome unknown (server stopped)';
/** A call the client cancelled (notifications/cancelled): nothing changed at Keap … */
export const CANCELLED = 'cancelled (nothing changed at Keap)';
/** … or a write cancelled after it was sent, which may have been applied. */
export const CANCELLED_UNKNOWN = 'cancelled after sending: outcome unknown';

/** The RESULT of a finished call: completed, or how it was cancelled. */
function resultOf(r: Row): string {
  if (r.decision !== 'cancelled') return 'completed';
  return r.error_category === 'outcome_unknown' ? CANCELLED_UNKNOWN : CANCELLED;
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  return String(v);
}

export function formatTable(rows: readonly Row[]): string {
  const cols: [string, (r: Row) => string][] = [
    ['TIME', (r) => cell(r.time)],
    ['AGENT', (r) => cell(r.agent)],
    ['TOOL', (r) => cell(r.tool)],
    ['DECISION', (r) => cell(r.decision)],
    ['STATUS', (r) => cell(r.status)],
    ['DURATION', (r) => (typeof r.duration_ms === 'number' ? `${Math.round(r.duration_ms)}ms` : '')],
    ['ERROR', (r) => cell(r.error_category)],
    ['REQUEST', (r) => (r.method !== undefined ? `${cell(r.method)} ${cell(r.path)}` : '')],
    ['RESULT', (r) => cell(r.result)],
  ];
  const data = rows.map((r) => cols.map(([, f]) => f(r).replace(/[\r\n\t]/g, ' ')));
  const widths = cols.map(([h], i) => Math.max(h.length, ...data.map((d) => (d[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(cols.map(([h]) => h)), ...data.map(line)].join('\n');
}

/**
 * One row per call and decision: an `intent` line and its `outcome` line (same call_id) become one row (the
 * intent's fields, then the outcome's; `result: 'completed'`); an intent without outcome gets
 * `result: UNKNOWN`; refusals get `decision: 'refused'` and a readable `result`; a cancelled call (decision
 * 'cancelled') gets CANCELLED, or CANCELLED_UNKNOWN for a write cancelled after it was sent. Other lines pass
 * unchanged.
 */
export function pairCalls(records: readonly Row[]): Row[] {
  const all: Row[] = [];
  const open = new Map<string, Row>();
  for (const r of records) {
    const callId = typeof r.call_id === 'string' ? r.call_id : undefined;
    if (r.kind === 'intent' && callId !== undefined) {
      const row: Row = { ...r, result: UNKNOWN };
      open.set(callId, row);
      all.push(row);
    } else if (r.kind === 'outcome' && callId !== undefined) {
      const row = open.get(callId);
      open.delete(callId);
      const { time: _t, kind: _k, call_id: _c, agent: _a, session: _s, tool: _tool, ...outcome } = r;
      if (row !== undefined) {
        Object.assign(row, outcome);
        row.result = resultOf(row);
      } else all.push({ ...r, result: 'outcome without intent' });
    } else if (r.kind === 'refusal') {
      const from = typeof r.remote === 'string' ? ` from ${r.remote}` : '';
      const what = r.reason === 'suppressed' ? cell(r.detail) : `${cell(r.reason)}${from}`;
      all.push({ ...r, decision: 'refused', result: what });
    } else if (r.decision === 'cancelled') {
      all.push({ ...r, result: resultOf(r) });
    } else {
      all.push(r);
    }
  }
  return all;
}

/** Returns the exit code: 0 ok, 1 log unreadable, 2 bad usage. */
export async function runAuditCli(
  argv: string[],
  opts: { auditLogPath?: string | undefined; now?: () => number; out?: (s: string) => void },
): Promise<number> {
  const out = opts.out ?? ((s: string) => void process.stdout.write(s));
  const parsed = parseArgs(argv, (opts.now ?? Date.now)());
  if (parsed === 'help') {
    out(USAGE);
    return 0;
  }
  if (typeof parsed === 'string') {
    process.stderr.write(`keap-mcp audit: ${parsed}\n${USAGE}`);
    return 2;
  }
  const file = parsed.file ?? opts.auditLogPath;
  if (file === undefined || file === '') {
    process.stderr.write(`keap-mcp audit: no audit log; set KEAP_AUDIT_LOG or pass --file\n${USAGE}`);
    return 2;
  }
  if (!existsSync(file)) {
    process.stderr.write(`keap-mcp audit: ${file} does not exist\n`);
    return 1;
  }
  const records: Row[] = [];
  let bad = 0;
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of rl) {
    if (text.trim() === '') continue;
    let r: Row;
    try {
      r = JSON.parse(text) as Row;
    } catch {
      bad++;
      continue;
    }
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      bad++;
      continue;
    }
    records.push(r);
  }
  const rows = pairCalls(records).filter((r) => {
    if (parsed.agent !== undefined && r.agent !== parsed.agent) return false;
    if (parsed.tool !== undefined && r.tool !== parsed.tool) return false;
    if (parsed.decision !== undefined && r.decision !== parsed.decision) return false;
    if (parsed.sinceMs !== undefined) {
      const t = typeof r.time === 'string' ? Date.parse(r.time) : Number.NaN;
      if (Number.isNaN(t) || t < parsed.sinceMs) return false;
    }
    return true;
  });
  if (parsed.tail !== undefined && rows.length > parsed.tail) rows.splice(0, rows.length - parsed.tail);
  out(`${formatTable(rows)}\n`);
  out(
    `${rows.length} record${rows.length === 1 ? '' : 's'}${bad > 0 ? ` (${bad} unreadable line${bad === 1 ? '' : 's'} skipped)` : ''}\n`,
  );
  return 0;
}
