/**
 * Starts a throw-away `redis-server` on a free loopback port (no persistence), for tests that need Redis.
 *
 *   const skip = redisSkipReason();            // undefined when the binary is there
 *   const redis = await startRedis();          // { url, port, stop(), restart() }
 *   ...
 *   await redis.stop();                        // in afterAll
 *
 * When the binary is missing, `redisSkipReason()` returns the reason to print (tests skip), unless
 * KEAP_MCP_REQUIRE_REDIS=1, in which case it throws (CI must not skip silently). The binary is
 * KEAP_MCP_REDIS_SERVER or /usr/bin/redis-server (then redis-server on PATH).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s); resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
  /** Stops it (if running) and starts it again on the same port, empty. */
  restart(): Promise<void>;
}

function findBinary(): string | undefined {
  const configured = process.env.KEAP_MCP_REDIS_SERVER;
  if (configured) return existsSync(configured) ? configured : undefined;
  if (existsSync('/usr/bin/redis-server')) return '/usr/bin/redis-server';
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.status === 0 ? 'redis-server' : undefined;
}

/** Why Redis tests cannot run here (undefined: they can). Throws when KEAP_MCP_REQUIRE_REDIS=1 and they cannot. */
export function redisSkipReason(): string | undefined {
  if (findBinary() !== undefined) return undefined;
  const reason =
    'redis-server not found (set KEAP_MCP_REDIS_SERVER or install Debian package redis-server): Redis tests skipped';
  if (process.env.KEAP_MCP_REQUIRE_REDIS === '1') {
    throw new Error(`${reason} — but KEAP_MCP_REQUIRE_REDIS=1 requires them`);
  }
  process.stderr.write(`[redis] ${reason}\n`);
  return reason;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true when the server answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (b) => {
      data += b.toString('utf8');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

function launch(
  bin: string,
  port: number,
): { child: ChildProcess; exited: Promise<void>; log: () => string } {
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });
  return { child, exited, log: () => out };
}

async function waitReady(port: number, exited: Promise<void>, log: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (gone) throw new Error(`redis-server exited on port ${port}: ${log().trim()}`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer PING on port ${port} within 10 s: ${log().trim()}`);
}

/** Starts redis-server on `port` (default: a free loopback port). */
export async function startRedis(port?: number): Promise<RedisServer> {
  const bin = findBinary();
  if (bin === undefined) throw new Error('redis-server not found (see redisSkipReason())');
  const p = port ?? (await freePort());
  let cur: ReturnType<typeof launch> | undefined;

  async function up(): Promise<void> {
    const l = launch(bin as string, p);
    cur = l;
    try {
      await waitReady(p, l.exited, l.log);
    } catch (e) {
      l.child.kill('SIGKILL');
      await l.exited;
      cur = undefined;
      throw e;
    }
  }

  async function stop(): Promise<void> {
    const l = cur;
    cur = undefined;
    if (!l || l.child.exitCode !== null || l.child.signalCode !== null) return;
    l.child.kill('SIGTERM');
    const t = setTimeout(() => l.child.kill('SIGKILL'), 5_000);
    await l.exited;
    clearTimeout(t);
  }

  await up();
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    stop,
    async restart() {
      await stop();
      await up();
    },
  };
}
