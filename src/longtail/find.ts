/**
 * find_keap_operations: ranks every operation against words or a path fragment. Words are matched against the
 * operationId's words (weight 3) and the path's, tag's and resource's words (weight 2), singular and plural
 * alike, prefixes of 3+ letters (weight 1); ties go to the operation with fewest words the query did not name.
 * A query that looks like a path (has '/', ':' or '{') is matched against paths: equal, then suffix, then
 * substring.
 */
import type { OperationFact } from '../facts/types.js';
import { words } from './operations.js';
import { resourceOf } from './resources.js';

export const MAX_FOUND = 20;

function stem(w: string): string {
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  return w;
}

interface Indexed {
  readonly op: OperationFact;
  readonly idWords: ReadonlySet<string>;
  readonly otherWords: ReadonlySet<string>;
  readonly all: readonly string[];
}

let index: readonly Indexed[] | undefined;
let indexedFrom: readonly OperationFact[] | undefined;

function indexOf(ops: readonly OperationFact[]): readonly Indexed[] {
  if (index && indexedFrom === ops) return index;
  index = ops.map((op) => {
    const idWords = new Set(
      words(op.operationId.replace(/Using(GET|POST|PUT|PATCH|DELETE)(_\d+)?$/, '').replace(/_\d+$/, '')).map(
        stem,
      ),
    );
    const other = new Set(
      [
        ...words(op.operationId),
        ...op.path
          .split('/')
          .filter((s) => !s.startsWith('{'))
          .flatMap((s) => words(s)),
        ...words(op.tag ?? ''),
        ...words(resourceOf(op) ?? ''),
        op.method.toLowerCase(),
      ].map(stem),
    );
    return { op, idWords, otherWords: other, all: [...new Set([...idWords, ...other])] };
  });
  indexedFrom = ops;
  return index;
}

export function looksLikePath(q: string): boolean {
  return /[/:{]/.test(q);
}

function pathScore(path: string, q: string): number {
  const p = path.toLowerCase();
  const f = q.toLowerCase();
  if (p === f) return 1000;
  if (p.endsWith(f)) return 800 - (p.length - f.length) / 100;
  if (p.startsWith(f)) return 600 - (p.length - f.length) / 100;
  if (p.includes(f)) return 400 - (p.length - f.length) / 100;
  return 0;
}

function wordScore(x: Indexed, qs: readonly string[]): number {
  let score = 0;
  let matched = 0;
  for (const w of qs) {
    if (x.idWords.has(w)) {
      score += 3;
      matched++;
    } else if (x.otherWords.has(w)) {
      score += 2;
      matched++;
    } else if (w.length >= 3 && x.all.some((a) => a.startsWith(w))) {
      score += 1;
      matched++;
    }
  }
  if (matched === 0) return 0;
  const extra = [...x.idWords].filter((w) => !qs.includes(w)).length;
  return score - extra * 0.1;
}

/** The operations matching `query` (best first, at most `limit`), among `ops` (already filtered). */
export function rankOperations(
  ops: readonly OperationFact[],
  all: readonly OperationFact[],
  query: string,
  limit = MAX_FOUND,
): OperationFact[] {
  const q = query.trim();
  const idx = indexOf(all);
  const wanted = new Set(ops);
  const exact = q.toLowerCase();
  const qs = [...new Set(words(q).map(stem))];
  const path = looksLikePath(q);
  const scored: { op: OperationFact; score: number }[] = [];
  for (const x of idx) {
    if (!wanted.has(x.op)) continue;
    let score = x.op.operationId.toLowerCase() === exact ? 2000 : 0;
    if (path) score += pathScore(x.op.path, q);
    else score += wordScore(x, qs);
    if (score > 0) scored.push({ op: x.op, score });
  }
  scored.sort((a, b) => b.score - a.score || a.op.operationId.localeCompare(b.op.operationId));
  return scored.slice(0, limit).map((s) => s.op);
}
