import { describe, expect, it } from 'vitest';
import { runSandboxCli } from '../../src/sandbox/server.js';

describe('keap-mcp sandbox (runSandboxCli)', () => {
  it('prints its base URL on one line and serves until stopped', async () => {
    const lines: string[] = [];
    const ac = new AbortController();
    let printed!: () => void;
    const ready = new Promise<void>((r) => {
      printed = r;
    });
    const done = runSandboxCli(
      [
        'sandbox',
        '--port',
        '0',
        '--seed',
        '7',
        '--control',
        '--hook-schedule',
        'keap',
        '--hook-timeout=5000',
      ],
      {
        out: (l) => {
          lines.push(l);
          printed();
        },
        signal: ac.signal,
      },
    );
    await ready;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const base = lines[0]!;
    const r = await fetch(`${base}/v2/users`, { headers: { 'x-keap-api-key': 'cli-key' } });
    expect(r.status).toBe(200);
    const cfg = (await (await fetch(`${base}/__sandbox/config`)).json()) as any;
    expect(cfg).toMatchObject({ seed: 7, hookSchedule: 'keap', hookTimeoutMs: 5000 });
    ac.abort();
    await done;
    await expect(fetch(`${base}/v2/users`, { headers: { 'x-keap-api-key': 'cli-key' } })).rejects.toThrow();
  });

  it('rejects unknown options', async () => {
    await expect(runSandboxCli(['--bogus'])).rejects.toThrow(/unknown option --bogus/);
    await expect(runSandboxCli(['--port', 'abc'])).rejects.toThrow(/--port/);
    await expect(runSandboxCli(['--hook-schedule', 'slow'])).rejects.toThrow(
      /--hook-schedule must be fast or keap/,
    );
  });
});
