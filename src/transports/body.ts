/**
 * Reading a request body with a size bound, for the MCP endpoint (src/transports/http.ts) and the REST hooks
 * receiver (src/hooks/receiver.ts). A declared Content-Length over the limit is refused before reading; a body
 * that grows past it stops being kept. `overLimit` says what happens to the rest: 'drain' keeps reading and
 * drops it (the connection stays usable), 'pause' stops reading (the caller answers early, then lingers).
 */
import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly status: 413 | 400 };

export function readBodyLimited(
  req: IncomingMessage,
  limit: number,
  overLimit: 'drain' | 'pause',
): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      resolve({ ok: false, status: 413 });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      if (overLimit === 'pause') req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        if (overLimit === 'pause') req.pause();
        finish({ ok: false, status: 413 });
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', () => finish({ ok: false, status: 400 }));
    req.on('aborted', () => finish({ ok: false, status: 400 }));
  });
}
