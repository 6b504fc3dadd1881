/** Matches a request path against route templates like '/v2/contacts/{contact_id}' or '/v2/tags/{tag_id}/contacts:applyTags'. */
import type { SbMethod, SbRoute } from './types.js';

interface Compiled {
  route: SbRoute;
  re: RegExp;
  names: string[];
  params: number;
  literal: number;
}

/**
 * Literal path segments of Keap's documented paths that sit where a sibling path has a placeholder
 * (`/v2/contacts/model` next to `/v2/contacts/{contact_id}`, `/v2/opportunities/stageMoves`,
 * `/v2/tags/categories`, `.../model/customFields/tabs`, ...). A placeholder never captures one of them, so such a
 * path reaches its own route (a 501 one when the sandbox does not simulate the operation) — never a
 * `{..._id}` route answering 400 "Invalid id".
 */
export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([
  'assignedProducts',
  'batch-unpublish',
  'categories',
  'commissionPrograms',
  'customFields',
  'event_keys',
  'groups',
  'ids',
  'model',
  'redirects',
  'resources',
  'stageMoves',
  'stages',
  'summaries',
  'tabs',
  'templates',
]);

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileTemplate(template: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  let src = '';
  let last = 0;
  for (const m of template.matchAll(/\{([A-Za-z0-9_]+)\}/g)) {
    src += escapeRe(template.slice(last, m.index));
    names.push(m[1] as string);
    src += '([^/:]+)';
    last = (m.index ?? 0) + m[0].length;
  }
  src += escapeRe(template.slice(last));
  return { re: new RegExp(`^${src}$`), names };
}

export type RouteMatch =
  | { kind: 'ok'; route: SbRoute; params: Record<string, string> }
  | { kind: 'method'; template: string }
  | { kind: 'none' };

export class Router {
  private readonly compiled: Compiled[] = [];

  add(route: SbRoute): void {
    const { re, names } = compileTemplate(route.path);
    this.compiled.push({
      route,
      re,
      names,
      params: names.length,
      literal: route.path.replace(/\{[^}]+\}/g, '').length,
    });
    // Literal segments win over placeholders ('/v2/contacts/model' before '/v2/contacts/{contact_id}').
    this.compiled.sort((a, b) => a.params - b.params || b.literal - a.literal);
  }

  match(method: SbMethod | string, path: string): RouteMatch {
    let pathMatched: string | undefined;
    for (const c of this.compiled) {
      const m = c.re.exec(path);
      if (!m) continue;
      if (c.names.some((_, i) => RESERVED_SEGMENTS.has(m[i + 1] as string))) continue;
      if (c.route.method !== method) {
        pathMatched ??= c.route.path;
        continue;
      }
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        let v = m[i + 1] as string;
        try {
          v = decodeURIComponent(v);
        } catch {
          // keep raw
        }
        params[n] = v;
      });
      return { kind: 'ok', route: c.route, params };
    }
    return pathMatched ? { kind: 'method', template: pathMatched } : { kind: 'none' };
  }
}
