/**
 * Bench-only preload for the servers under measurement (`node --expose-gc --import ./dist/bench/gc-on-signal.js
 * <server>`): SIGUSR2 runs a full garbage collection, so the bench can sample RSS "after GC" in a child process it
 * talks to only through MCP. Loaded into the bare server and keap-mcp alike; without --expose-gc it does nothing.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (typeof gc === 'function') {
  process.on('SIGUSR2', () => {
    gc();
    gc();
    process.stderr.write('gc-on-signal: done\n');
  });
}
