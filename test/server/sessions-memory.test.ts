/**
 * The finding, end to end on the real binary: 300 rounds of connect + tools/list + close WITHOUT DELETE
 * (what SDK clients and the Inspector CLI do). With a 1 s idle timeout the open sessions stay within the cap and
 * return to 0, and after a GC the server's memory is back within 1.3× of its idle figure.
 * The server runs with --expose-gc and a preload that collects on SIGUSR2 (test-only; the product is unchanged).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'src', 'index.js');
const GC_ON_SIGNAL = "data:text/javascript,process.on('SIGUSR2',()=>globalThis.gc())";
const ROUNDS = 300;

interface Health {
  sessions: { open: number; max: number; idle_timeout_s: number };
  rss_bytes: number;
  heap_used_bytes: number;
}

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('KEAP_')) env[k] = v;
  }
  return { ...env, KEAP_MCP_LOG_LEVEL: 'warn', ...extra };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let child: ChildProcess;
let url = '';

async function health(): Promise<Health> {
  const res = await fetch(url.replace(/\/mcp$/, '/healthz'));
  return (await res.json()) as Health;
}

async function until(what: string, check: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

/** Memory after collecting: the lowest of a few GC + /healthz readings. */
async function collected(): Promise<{ rss: number; heap: number }> {
  let rss = Number.POSITIVE_INFINITY;
  let heap = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 4; i++) {
    child.kill('SIGUSR2');
    await sleep(150);
    const h = await health();
    rss = Math.min(rss, h.rss_bytes);
    heap = Math.min(heap, h.heap_used_bytes);
  }
  return { rss, heap };
}

async function round(): Promise<void> {
  const client = new Client({ name: 'round-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const { tools } = await client.listTools();
  if (tools.length === 0) throw new Error('no tools');
  await client.close(); // no DELETE
}

beforeAll(async () => {
  expect(existsSync(BIN), 'run `npm run build` first').toBe(true);
  child = spawn(
    process.execPath,
    ['--expose-gc', '--import', GC_ON_SIGNAL, BIN, '--http', '--sandbox', '--port', '0'],
    { env: cleanEnv({ KEAP_MCP_SESSION_IDLE_S: '1' }), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const proc = child;
  url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${err}`)), 30_000);
    proc.stderr?.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
});

afterAll(() => {
  child?.kill('SIGTERM');
});

describe('sessions left open by clients (no DELETE)', () => {
  it(`${ROUNDS} connect + list + close rounds: sessions expire, memory returns within 1.3× of idle`, async () => {
    // Idle figure: after a few warm-up rounds have come and gone (lazy start-up work is done).
    for (let i = 0; i < 5; i++) await round();
    await until('warm-up sessions expired', async () => (await health()).sessions.open === 0);
    const idle = await collected();

    let most = 0;
    for (let i = 0; i < ROUNDS; i++) {
      await round();
      if (i % 25 === 0) most = Math.max(most, (await health()).sessions.open);
    }
    const after = await health();
    expect(after.sessions.max).toBe(200);
    expect(after.sessions.idle_timeout_s).toBe(1);
    expect(after.sessions.open).toBeLessThanOrEqual(after.sessions.max);
    expect(most).toBeLessThanOrEqual(after.sessions.max);

    await until('all sessions expired', async () => (await health()).sessions.open === 0);
    let now = { rss: 0, heap: 0 };
    await until('memory back within 1.3× of idle', async () => {
      now = await collected();
      return now.rss <= idle.rss * 1.3 && now.heap <= idle.heap * 1.3;
    });
    process.stderr.write(
      `sessions-memory: idle rss ${idle.rss} heap ${idle.heap}; after ${ROUNDS} rounds rss ${now.rss} heap ${now.heap}\n`,
    );
    expect(now.rss).toBeLessThanOrEqual(idle.rss * 1.3);
  }, 240_000);
});
