/**
 * Memory over Streamable HTTP: idle RSS, RSS per additional session, and RSS after the sessions close, keap-mcp
 * (fake PAT, default agent) vs the bare server (one McpServer per session, as keap-mcp). Both run with
 * `--expose-gc --import dist/bench/gc-on-signal.js` so the bench can force a full GC (SIGUSR2) before each
 * sample; RSS is VmRSS of the server process.
 *
 * Per server and round: start → 1 session (initialize + tools/list, kept open) → GC → idle → 50 more sessions
 * (real MCP clients, initialize + tools/list, 5 at a time, kept open) → GC → loaded → all 51 closed with DELETE
 * → GC → after. Rounds alternate the server order; figures are medians over rounds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  bareSpec,
  connectHttp,
  type HttpConn,
  keapSpec,
  removeTempDirs,
  rssBytes,
  type ServerSpec,
  sleep,
  startHttpServer,
} from './procs.js';
import { type Cell, median, ms, printTable, recordResults, runPool } from './run.js';
import { addSummary, fmtKb, fmtMb, fmtRatio } from './summary.js';

const SESSIONS = 50;
const ROUNDS = 1;

interface MemSample {
  readonly start: number;
  readonly idle: number;
  readonly loaded: number;
  readonly after: number;
  readonly perSession: number;
  readonly openMs: number;
}

async function measure(spec: ServerSpec): Promise<MemSample> {
  const srv = await startHttpServer(spec, { gc: true });
  try {
    const sample = async (): Promise<number> => {
      await srv.gc();
      await sleep(100);
      return rssBytes(srv.pid);
    };
    const start = await sample();
    const open = async (): Promise<HttpConn> => {
      const c = await connectHttp(srv.url);
      await c.client.listTools();
      return c;
    };
    const conns: HttpConn[] = [await open()];
    const idle = await sample();
    const t0 = Date.now();
    await runPool(SESSIONS, 5, async () => {
      conns.push(await open());
    });
    const openMs = Date.now() - t0;
    const loaded = await sample();
    await Promise.all(conns.map((c) => c.close()));
    await sleep(200);
    const after = await sample();
    return { start, idle, loaded, after, perSession: (loaded - idle) / SESSIONS, openMs };
  } finally {
    await srv.stop();
  }
}

afterAll(() => removeTempDirs());

describe('memory over Streamable HTTP', () => {
  it(`idle RSS, RSS per session (${SESSIONS} sessions), RSS after they close`, async () => {
    const specs = {
      bare: bareSpec({ http: true }),
      keap: keapSpec({ http: true, env: { KEAP_MCP_MAX_SESSIONS_PER_AGENT: String(SESSIONS * 2) } }),
    };
    const samples: { bare: MemSample[]; keap: MemSample[] } = { bare: [], keap: [] };
    for (let i = 0; i < ROUNDS; i += 1) {
      const order = i % 2 === 0 ? (['bare', 'keap'] as const) : (['keap', 'bare'] as const);
      for (const k of order) samples[k].push(await measure(specs[k]));
    }
    const med = (k: 'bare' | 'keap', f: (s: MemSample) => number): number => median(samples[k].map(f));
    const idleRatio = median(samples.keap.map((s, i) => s.idle / (samples.bare[i] as MemSample).idle));
    const afterRatio = {
      keap: med('keap', (s) => s.after / s.idle),
      bare: med('bare', (s) => s.after / s.idle),
    };
    const rows: Record<string, Cell>[] = (['bare', 'keap'] as const).map((k) => ({
      server: specs[k].label,
      'start MB': ms(med(k, (s) => s.start) / 2 ** 20, 1),
      'idle (1 session) MB': ms(med(k, (s) => s.idle) / 2 ** 20, 1),
      [`+${SESSIONS} sessions MB`]: ms(med(k, (s) => s.loaded) / 2 ** 20, 1),
      'kB / session': Math.round(med(k, (s) => s.perSession) / 1024),
      'after close MB': ms(med(k, (s) => s.after) / 2 ** 20, 1),
      'after / idle': ms(afterRatio[k], 3),
      [`open ${SESSIONS} ms`]: Math.round(med(k, (s) => s.openMs)),
    }));
    printTable(`memory over HTTP, ${ROUNDS} rounds (RSS after a forced GC in the server)`, rows);
    recordResults('httpMemory', { sessions: SESSIONS, rounds: ROUNDS, samples, idleRatio, afterRatio });

    const perSession = med('keap', (s) => s.perSession);
    addSummary(20, 'memory', [
      {
        figure: 'idle RSS (HTTP, 1 session, after GC)',
        keap: fmtMb(med('keap', (s) => s.idle)),
        bare: fmtMb(med('bare', (s) => s.idle)),
        ratio: fmtRatio(idleRatio),
        target: { value: idleRatio, op: '<=', limit: 1.15, text: '≤ ×1.15' },
      },
      {
        figure: `RSS per additional HTTP session (${SESSIONS})`,
        keap: fmtKb(perSession),
        bare: fmtKb(med('bare', (s) => s.perSession)),
        target: { value: perSession / 1024, op: '<=', limit: 250, text: '≤ 250 kB' },
      },
      {
        figure: 'RSS after the sessions close, ÷ idle',
        keap: fmtRatio(afterRatio.keap),
        bare: fmtRatio(afterRatio.bare),
        target: { value: afterRatio.keap, op: '<=', limit: 1.1, text: '≤ ×1.10' },
      },
    ]);
    expect(samples.keap.length).toBe(ROUNDS);
  });
});
