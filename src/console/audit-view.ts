/**
 * The console's audit timeline: the JSON-lines audit log read back, intent and outcome lines paired into one row
 * per call (pairCalls, as `keap-mcp audit` does), filtered, newest first, 50 per page. Only the last 16 MiB of the
 * file are read, so a huge log cannot stall the console.
 */
import { open, stat } from 'node:fs/promises';
import { pairCalls, parseSince, type Row } from '../safety/audit-cli.js';

export const PAGE_SIZE = 50;
export const MAX_READ_BYTES = 16 * 1024 * 1024;

export interface AuditQuery {
  readonly agent?: string | undefined;
  readonly tool?: string | undefined;
  readonly decision?: string | undefined;
  /** ISO time or a duration such as 30m, 2h, 7d. */
  readonly since?: string | undefined;
  /** 1-based. */
  readonly page: number;
}

export interface AuditPage {
  readonly rows: readonly Row[];
  /** Rows matching the filters. */
  readonly total: number;
  readonly page: number;
  readonly pages: number;
  /** Only the end of the log was read. */
  readonly truncated: boolean;
  readonly unreadable: number;
  /** A problem to show (no log configured, unreadable file, bad `since`). */
  readonly error?: string | undefined;
}

async function readTail(path: string): Promise<{ text: string; truncated: boolean }> {
  const st = await stat(path);
  const start = Math.max(0, st.size - MAX_READ_BYTES);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(st.size - start);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    let text = buf.subarray(0, off).toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    return { text, truncated: start > 0 };
  } finally {
    await fh.close();
  }
}

export async function readAuditPage(
  path: string | undefined,
  q: AuditQuery,
  now: number = Date.now(),
): Promise<AuditPage> {
  const empty = (error: string | undefined): AuditPage => ({
    rows: [],
    total: 0,
    page: 1,
    pages: 1,
    truncated: false,
    unreadable: 0,
    error,
  });
  if (path === undefined || path === '') {
    return empty('No audit log is configured (KEAP_AUDIT_LOG / --audit-log); records go to the server log.');
  }
  let sinceMs: number | undefined;
  if (q.since !== undefined && q.since !== '') {
    sinceMs = parseSince(q.since, now);
    if (sinceMs === undefined) {
      return empty(`"since" must be an ISO time or a duration like 30m, 2h, 7d.`);
    }
  }
  let text: string;
  let truncated: boolean;
  try {
    ({ text, truncated } = await readTail(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return empty(
      code === 'ENOENT' ? 'The audit log has no records yet.' : `The audit log could not be read (${code}).`,
    );
  }
  const records: Row[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as unknown;
      if (r !== null && typeof r === 'object' && !Array.isArray(r)) records.push(r as Row);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  const rows = pairCalls(records).filter((r) => {
    if (q.agent !== undefined && q.agent !== '' && r.agent !== q.agent) return false;
    if (q.tool !== undefined && q.tool !== '' && r.tool !== q.tool) return false;
    if (q.decision !== undefined && q.decision !== '' && r.decision !== q.decision) return false;
    if (sinceMs !== undefined) {
      const t = typeof r.time === 'string' ? Date.parse(r.time) : Number.NaN;
      if (Number.isNaN(t) || t < sinceMs) return false;
    }
    return true;
  });
  rows.reverse();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const page = Math.min(Math.max(1, Math.floor(q.page)), pages);
  return {
    rows: rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE),
    total: rows.length,
    page,
    pages,
    truncated,
    unreadable,
  };
}
