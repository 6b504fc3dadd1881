/**
 * Server-rendered HTML of the operator console. Every value from data (previews, requests, audit fields, names)
 * goes through esc(): the console never emits HTML that came from an agent, Keap or a log line. One inline style
 * and one inline script, both carrying the response's CSP nonce; no external resources, works offline.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text → HTML text or attribute value (quoted). */
export function esc(value: unknown): string {
  const s = value === undefined || value === null ? '' : String(value);
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export type NavKey = 'approvals' | 'audit' | 'agents' | 'budget' | 'sessions' | 'hooks';

const NAV: readonly (readonly [NavKey, string, string])[] = [
  ['approvals', '/console/approvals', 'Approvals'],
  ['audit', '/console/audit', 'Audit'],
  ['agents', '/console/agents', 'Agents & grants'],
  ['budget', '/console/budget', 'Keap budget'],
  ['sessions', '/console/sessions', 'Sessions'],
  ['hooks', '/console/hooks', 'Hooks'],
];

const STYLE = `
:root { color-scheme: light; --fg: #1b1b1f; --muted: #4a4a55; --bg: #fff; --line: #c9c9d1; --accent: #1a4fa0;
  --ok: #12622d; --bad: #a1191b; --soft: #f2f3f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
header { background: #14213d; color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: 1rem;
  align-items: center; }
header .brand { font-weight: 700; margin-right: 1rem; }
header nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem; }
header nav a { color: #fff; padding: .35rem .6rem; border-radius: 4px; display: inline-block; }
header nav a[aria-current="page"] { background: #fff; color: #14213d; font-weight: 600; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 80rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
button, input, select { font: inherit; }
button { cursor: pointer; border: 2px solid transparent; border-radius: 4px; padding: .35rem .9rem; }
.approve { background: var(--ok); color: #fff; }
.deny { background: var(--bad); color: #fff; }
.plain { background: var(--soft); color: var(--fg); border-color: var(--line); }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 0 0 1rem; }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 .5rem; }
.actions { display: flex; gap: .75rem; margin-top: .75rem; }
.actions form { margin: 0; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: .6rem; margin: .25rem 0;
  white-space: pre-wrap; overflow-wrap: anywhere; font: 14px/1.45 ui-monospace, Menlo, Consolas, monospace; }
pre.preview { font: 16px/1.5 system-ui, sans-serif; background: #fffbe6; border-color: #d8c36a; }
table { border-collapse: collapse; width: 100%; margin: 0 0 1rem; font-size: .95rem; }
caption { text-align: left; }
.scroll { overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; margin: 0 0 1rem; }
.filters label { display: flex; flex-direction: column; font-size: .9rem; }
.filters input, .filters select, .login input { border: 1px solid #767680; border-radius: 4px; padding: .3rem .4rem; }
.status { padding: .5rem .75rem; border-radius: 4px; background: #e7f1ff; border: 1px solid #9bbcf0; }
.error { padding: .5rem .75rem; border-radius: 4px; background: #fdecec; border: 1px solid #e39a9a; color: #6d0c0d; }
.login { max-width: 26rem; }
.login label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
.login input { width: 100%; }
.login button { margin-top: 1rem; background: var(--accent); color: #fff; }
.pager { display: flex; gap: 1rem; }
.grant-write { color: var(--ok); font-weight: 600; }
.grant-read { color: var(--accent); }
.grant-none { color: var(--muted); }
`;

export interface LayoutOptions {
  readonly title: string;
  readonly nonce: string;
  /** Present when logged in: the nav and the logout form. */
  readonly session?:
    | { readonly csrf: string; readonly active?: NavKey; readonly pending: number }
    | undefined;
  readonly body: string;
  /** Inline script (already trusted code, no data), run with the nonce. */
  readonly script?: string | undefined;
}

export function layout(o: LayoutOptions): string {
  const s = o.session;
  const nav =
    s === undefined
      ? ''
      : `<nav aria-label="Console"><ul>${NAV.map(
          ([key, href, label]) =>
            `<li><a href="${href}"${s.active === key ? ' aria-current="page"' : ''}>${esc(label)}${
              key === 'approvals' ? ` (<span id="pending-count">${s.pending}</span>)` : ''
            }</a></li>`,
        ).join('')}</ul></nav>
      <form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${esc(s.csrf)}">
        <button type="submit" class="plain">Log out</button></form>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${esc(o.title)} · keap-mcp console</title>
<style nonce="${esc(o.nonce)}">${STYLE}</style>
</head>
<body>
<header><span class="brand">keap-mcp operator console</span>${nav}</header>
<main id="main">
<h1>${esc(o.title)}</h1>
${o.body}
</main>
${o.script !== undefined ? `<script nonce="${esc(o.nonce)}">${o.script}</script>` : ''}
</body>
</html>`;
}

/** A table from rows of already-escaped cells. */
export function table(
  caption: string,
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  return `<div class="scroll" role="region" aria-label="${esc(caption)}" tabindex="0"><table><caption class="meta">${esc(caption)}</caption><thead><tr>${head
    .map((h) => `<th scope="col">${esc(h)}</th>`)
    .join(
      '',
    )}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table></div>`;
}

export function td(value: unknown, cls?: string): string {
  return `<td${cls !== undefined ? ` class="${cls}"` : ''}>${esc(value)}</td>`;
}

/** ISO time without milliseconds, in UTC. */
export function isoTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
