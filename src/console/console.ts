/**
 * The operator console: a small server-rendered web app under /console where a human decides pending approvals
 * (src/safety/approvals.ts) out of the model's reach, and sees the audit timeline, the agents × resources grant
 * matrix, the Keap rate-limit budget and the live MCP sessions.
 *
 * Mounting: `createConsole(opts).handle(req, res)` answers every /console… path and resolves true; any other
 * path resolves false (the host server routes it). Without an operator token hash the console does not exist:
 * handle() resolves false for every path, so the host answers 404.
 *
 * Security, per request:
 * 1. Host must name an allowed host; an Origin, when present, too (DNS rebinding) → 403.
 * 2. Every page but the login needs the session cookie (HttpOnly, SameSite=Strict, Path=/console; Secure over
 *    https). No session: pages → 303 to /console/login, /console/api/… → 401. An agent's bearer token opens
 *    nothing here.
 * 3. Every POST (login, approve, deny, logout) must be same-origin by Origin (or Referer when Origin is absent);
 *    every POST but the login also carries the session's CSRF token in a form field (constant-time check) → 403.
 * 4. Responses: strict CSP (script and style by nonce only), X-Frame-Options DENY, Cache-Control no-store.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ALL_TOOLS } from '../../tools/index.js';
import type { ConsoleHooks } from '../hooks/console-hooks.js';
import type { Logger } from '../logger.js';
import { type AnyToolSpec, RESOURCES, type Resource } from '../registry/define.js';
import type { Approval, ApprovalsApi } from '../safety/approvals.js';
import type { AuditApi, ConfirmationMode, Grant, PolicyApi } from '../safety/types.js';
import { StateUnavailableError } from '../state/errors.js';
import { normalizeHost } from '../transports/http.js';
import { PAGE_SIZE, readAuditPage } from './audit-view.js';
import {
  type ConsoleSession,
  ConsoleSessions,
  operatorTokenMatches,
  SESSION_TTL_MS,
  safeEqual,
  sessionCookie,
  setCookie,
} from './auth.js';
import { esc, isoTime, layout, type NavKey, table, td } from './html.js';

/** Keap budget of one credential (the Keap client's budget(), stamped with when it was read). */
export interface BudgetSnapshot {
  /** Which credential (e.g. "api key", "oauth"); never the secret. */
  readonly credential: string;
  readonly throttleAvailable?: number | undefined;
  readonly quotaAvailable?: number | undefined;
  readonly tenantAvailable?: number | undefined;
  /** When Keap last reported these numbers (ms since epoch); undefined = no call yet. */
  readonly at?: number | undefined;
}

/** A live MCP session, as the transport reports it. `id` is already truncated (never a full session id). */
export interface SessionSnapshot {
  readonly id: string;
  readonly agent: string;
  readonly age_s: number;
  readonly idle_s: number;
}

/** What the console needs from the policy (src/safety/policy.ts Policy provides all of it). */
export type ConsolePolicy = Pick<PolicyApi, 'agents' | 'isAllowed' | 'confirmationMode'> & {
  grantFor?(agent: string, resource: Resource): Grant;
  consoleConfirm?(agent: string): boolean;
};

export interface ConsoleOptions {
  readonly approvals: ApprovalsApi;
  /** KEAP_AUDIT_LOG; undefined → the timeline says no log is configured. */
  readonly auditLogPath?: string | undefined;
  readonly policy: ConsolePolicy;
  /** The catalog (default ALL_TOOLS). */
  readonly tools?: readonly AnyToolSpec[] | undefined;
  readonly budget?: (() => readonly BudgetSnapshot[]) | undefined;
  readonly sessions?: (() => readonly SessionSnapshot[]) | undefined;
  /** Normalized host names accepted in Host and Origin (RunningHttp.allowedHosts / allowedHostList()). */
  readonly allowedHosts: readonly string[];
  /** SHA-256 hex of the operator token; undefined → the console is absent. */
  readonly operatorTokenSha256: string | undefined;
  /** Receives failed logins and foreign Host/Origin refusals (source 'console'). */
  readonly audit?: Pick<AuditApi, 'refusal'> | undefined;
  readonly logger?: Logger | undefined;
  readonly now?: (() => number) | undefined;
  /** This server's REST hook subscriptions (the Hooks page); absent → the page says so. */
  readonly hooks?: ConsoleHooks | undefined;
}

export interface OperatorConsole {
  /** True when the request was a /console… request and has been answered. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Whether an operator token is configured (the console exists). */
  readonly enabled: boolean;
}

/** Poll interval of the approvals page (ms). */
export const POLL_MS = 2500;
const MAX_FORM_BYTES = 16 * 1024;

const DECISIONS = [
  'allowed',
  'cancelled',
  'confirmed',
  'confirmation_required',
  'declined',
  'denied',
  'dry_run',
  'idempotent_replay',
  'preview_read',
  'approval_pending',
  'refused',
] as const;

const DONE_MESSAGES: Readonly<Record<string, string>> = {
  approved: 'Approved. The agent can now run exactly this request once.',
  denied: 'Denied. The agent will be told the operator refused.',
  expired: 'That approval had expired; nothing changed. The agent must ask again.',
  already_decided: 'That approval was already decided; nothing changed.',
  unknown: 'No such approval; nothing changed.',
};

type Req = IncomingMessage;
type Res = ServerResponse;

function pathOf(req: Req): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

function queryOf(req: Req): URLSearchParams {
  const q = (req.url ?? '').indexOf('?');
  return new URLSearchParams(q < 0 ? '' : (req.url ?? '').slice(q + 1));
}

function readForm(req: Req): Promise<URLSearchParams | 'too_large' | 'bad'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: URLSearchParams | 'too_large' | 'bad') => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_FORM_BYTES) finish('too_large');
      else chunks.push(c);
    });
    req.on('end', () => finish(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', () => finish('bad'));
    req.on('aborted', () => finish('bad'));
  });
}

function humanAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function createConsole(opts: ConsoleOptions): OperatorConsole {
  const now = opts.now ?? Date.now;
  const tokenHash = opts.operatorTokenSha256?.toLowerCase();
  const enabled = tokenHash !== undefined && /^[0-9a-f]{64}$/.test(tokenHash);
  const allowed = new Set(opts.allowedHosts.map(normalizeHost));
  const sessions = new ConsoleSessions(now);
  const tools = opts.tools ?? ALL_TOOLS;

  // ---- responses -------------------------------------------------------------------------------

  function headers(nonce: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
      'x-frame-options': 'DENY',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      ...extra,
    };
  }

  function send(res: Res, status: number, type: string, body: string, extra: Record<string, string> = {}) {
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    const nonce = extra['x-nonce'] ?? randomBytes(16).toString('base64');
    const { 'x-nonce': _n, ...rest } = extra;
    res.writeHead(status, {
      'content-type': type,
      'content-length': String(Buffer.byteLength(body)),
      ...headers(nonce, rest),
    });
    res.end(body);
  }

  function html(
    res: Res,
    status: number,
    page: (nonce: string) => string,
    extra: Record<string, string> = {},
  ) {
    const nonce = randomBytes(16).toString('base64');
    send(res, status, 'text/html; charset=utf-8', page(nonce), { ...extra, 'x-nonce': nonce });
  }

  function json(res: Res, status: number, body: unknown) {
    send(res, status, 'application/json', JSON.stringify(body));
  }

  function redirect(res: Res, location: string, extra: Record<string, string> = {}) {
    send(res, 303, 'text/plain; charset=utf-8', `See ${location}`, { location, ...extra });
  }

  function message(res: Res, status: number, title: string, text: string, session?: ConsoleSession) {
    html(res, status, (nonce) =>
      layout({
        title,
        nonce,
        session: session !== undefined ? { csrf: session.csrf, pending: pendingCount() } : undefined,
        body: `<p class="error" role="alert">${esc(text)}</p><p><a href="/console/approvals">Back to the console</a></p>`,
      }),
    );
  }

  function refuse(req: Req, reason: 'wrong_token' | 'foreign_host' | 'foreign_origin', detail?: string) {
    const remote = req.socket.remoteAddress;
    try {
      opts.audit?.refusal({
        reason,
        source: 'console',
        ...(remote !== undefined ? { remote } : {}),
        ...(detail !== undefined ? { detail } : {}),
      });
    } catch {
      // the audit never throws; a broken one must not break the console
    }
    opts.logger?.info({ reason, remote }, 'console request refused');
  }

  // ---- checks ----------------------------------------------------------------------------------

  function hostAllowed(value: string | undefined): boolean {
    if (value === undefined) return false;
    try {
      return allowed.has(normalizeHost(new URL(`http://${value}`).hostname));
    } catch {
      return false;
    }
  }

  function originAllowed(origin: string): boolean {
    try {
      const u = new URL(origin);
      return (u.protocol === 'http:' || u.protocol === 'https:') && allowed.has(normalizeHost(u.hostname));
    } catch {
      return false;
    }
  }

  /** Same-origin POST: Origin (or, without it, Referer) must name this very host and port. */
  function sameOrigin(req: Req): boolean {
    const host = (req.headers.host ?? '').toLowerCase();
    const origin = req.headers.origin;
    const from = typeof origin === 'string' ? origin : req.headers.referer;
    if (from === undefined) return true; // the CSRF token (and SameSite=Strict) still apply
    try {
      const u = new URL(from);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host;
    } catch {
      return false;
    }
  }

  /** The pending count shown in the navigation, read once per request (route()) from the approvals store. */
  let pendingNow = 0;
  function pendingCount(): number {
    return pendingNow;
  }

  // ---- pages -----------------------------------------------------------------------------------

  function page(
    res: Res,
    session: ConsoleSession,
    active: NavKey,
    title: string,
    body: string,
    script?: string,
  ): void {
    html(res, 200, (nonce) =>
      layout({
        title,
        nonce,
        session: { csrf: session.csrf, active, pending: pendingCount() },
        body,
        script,
      }),
    );
  }

  function loginPage(res: Res, status: number, error?: string, info?: string): void {
    html(res, status, (nonce) =>
      layout({
        title: 'Log in',
        nonce,
        body: `${error !== undefined ? `<p class="error" role="alert">${esc(error)}</p>` : ''}${
          info !== undefined ? `<p class="status" role="status">${esc(info)}</p>` : ''
        }<form class="login" method="post" action="/console/login">
  <label for="token">Operator token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
  <button type="submit">Log in</button>
</form>
<p class="meta">The operator token is not an agent's bearer token. Its SHA-256 is set as operator_token_sha256 in the policy file or KEAP_MCP_OPERATOR_TOKEN_SHA256.</p>`,
      }),
    );
  }

  function approvalCard(a: Approval, csrf: string): string {
    const label = `${a.tool} requested by ${a.agent}`;
    const form = (action: 'approve' | 'deny', cls: string, text: string) =>
      `<form method="post" action="/console/approvals/${esc(a.id)}/${action}"><input type="hidden" name="csrf" value="${esc(csrf)}"><button type="submit" class="${cls}" aria-label="${esc(`${text}: ${label}`)}">${text}</button></form>`;
    return `<section class="card approval" aria-labelledby="a-${esc(a.id)}" data-id="${esc(a.id)}">
<h2 id="a-${esc(a.id)}">${esc(a.tool)} <span class="meta">requested by agent</span> ${esc(a.agent)}</h2>
<p class="meta">Requested ${esc(isoTime(a.createdAt))} · expires ${esc(isoTime(a.expiresAt))}${
      a.session !== undefined ? ` · session ${esc(a.session.slice(0, 8))}…` : ''
    } · id ${esc(a.id)}</p>
<h3 class="meta">What it will do</h3>
<pre class="preview">${esc(a.preview)}</pre>
<details><summary>Exact request sent to Keap</summary><pre><code>${esc(JSON.stringify(a.request, null, 2))}</code></pre></details>
<div class="actions">${form('approve', 'approve', 'Approve')}${form('deny', 'deny', 'Deny')}</div>
</section>`;
  }

  async function pendingFragment(csrf: string): Promise<{ html: string; version: string; count: number }> {
    const list = await opts.approvals.listPending();
    const html =
      list.length === 0
        ? '<p class="status" id="none-pending">No approvals are waiting.</p>'
        : list.map((a) => approvalCard(a, csrf)).join('\n');
    return { html, version: list.map((a) => a.id).join(','), count: list.length };
  }

  // Browser code (runs in the operator's page, never in the server). XMLHttpRequest rather than fetch keeps the
  // architecture rule "only src/keap/client.ts makes HTTP requests" a plain text check.
  const POLL_SCRIPT = `(function () {
  var box = document.getElementById('pending');
  var count = document.getElementById('pending-count');
  var live = document.getElementById('live');
  var version = box.getAttribute('data-version');
  function tick() {
    var x = new XMLHttpRequest();
    x.open('GET', '/console/api/approvals');
    x.setRequestHeader('accept', 'application/json');
    x.onload = function () {
      if (x.status === 401) { window.location.assign('/console/login'); return; }
      if (x.status !== 200) return;
      var d;
      try { d = JSON.parse(x.responseText); } catch (e) { return; }
      if (!d || d.version === version) return;
      version = d.version;
      box.innerHTML = d.html;
      count.textContent = String(d.count);
      live.textContent = d.count === 0 ? 'No approvals are waiting.' : d.count + ' approval(s) waiting.';
    };
    x.send();
  }
  setInterval(tick, ${POLL_MS});
})();`;

  async function approvalsPage(req: Req, res: Res, s: ConsoleSession): Promise<void> {
    const done = queryOf(req).get('done') ?? '';
    const note = Object.hasOwn(DONE_MESSAGES, done)
      ? `<p class="status" role="status">${esc(DONE_MESSAGES[done])}</p>`
      : '';
    const frag = await pendingFragment(s.csrf);
    const recent = (await opts.approvals.listRecent(20)).filter((a) => a.status !== 'pending');
    const history =
      recent.length === 0
        ? '<p class="meta">No decisions yet.</p>'
        : table(
            'Recent decisions (newest first)',
            ['requested', 'agent', 'tool', 'status', 'decided by', 'decided'],
            recent.map((a) => [
              td(isoTime(a.createdAt)),
              td(a.agent),
              td(a.tool),
              td(a.status),
              td(a.decidedBy ?? ''),
              td(a.decidedAt !== undefined ? isoTime(a.decidedAt) : ''),
            ]),
          );
    page(
      res,
      s,
      'approvals',
      'Pending approvals',
      `${note}<p class="meta">Each approval lets the agent run exactly the request shown, once, within 10 minutes. This list refreshes by itself.</p>
<div id="live" class="meta" role="status" aria-live="polite"></div>
<div id="pending" data-version="${esc(frag.version)}">${frag.html}</div>
<h2>History</h2>${history}`,
      POLL_SCRIPT,
    );
  }

  async function auditPage(req: Req, res: Res, s: ConsoleSession): Promise<void> {
    const q = queryOf(req);
    const get = (k: string) => {
      const v = q.get(k)?.trim();
      return v === undefined || v === '' ? undefined : v.slice(0, 200);
    };
    const filters = {
      agent: get('agent'),
      tool: get('tool'),
      decision: get('decision'),
      since: get('since'),
    };
    const pageNo = Number(q.get('page') ?? '1');
    const r = await readAuditPage(
      opts.auditLogPath,
      { ...filters, page: Number.isFinite(pageNo) ? pageNo : 1 },
      now(),
    );
    const option = (v: string, cur: string | undefined) =>
      `<option value="${esc(v)}"${cur === v ? ' selected' : ''}>${esc(v === '' ? 'any' : v)}</option>`;
    const form = `<form class="filters" method="get" action="/console/audit" role="search">
<label for="f-agent">Agent<select id="f-agent" name="agent">${['', ...opts.policy.agents()]
      .map((a) => option(a, filters.agent ?? ''))
      .join('')}</select></label>
<label for="f-tool">Tool<input id="f-tool" name="tool" list="tool-names" value="${esc(filters.tool)}" size="24"></label>
<datalist id="tool-names">${tools.map((t) => `<option value="${esc(t.name)}">`).join('')}</datalist>
<label for="f-decision">Decision<select id="f-decision" name="decision">${['', ...DECISIONS]
      .map((d) => option(d, filters.decision ?? ''))
      .join('')}</select></label>
<label for="f-since">Since (ISO time or 30m, 2h, 7d)<input id="f-since" name="since" value="${esc(filters.since)}" size="20"></label>
<button type="submit" class="plain">Filter</button>
</form>`;
    const cell = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v);
    const rows = r.rows.map((row) => [
      td(row.time),
      td(row.agent),
      td(row.tool),
      td(row.decision),
      td(
        row.method !== undefined || row.path !== undefined
          ? `${cell(row.method) ?? ''} ${cell(row.path) ?? ''}`
          : '',
      ),
      td(cell(row.status), 'num'),
      td(cell(row.result) ?? cell(row.error_category)),
      td(cell(row.duration_ms), 'num'),
    ]);
    const link = (p: number, text: string) => {
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries(filters)) if (v !== undefined) u.set(k, v);
      u.set('page', String(p));
      return `<a href="/console/audit?${esc(u.toString())}">${esc(text)}</a>`;
    };
    const pager = `<nav class="pager" aria-label="Audit pages">${r.page > 1 ? link(r.page - 1, '← Newer') : ''}<span>Page ${r.page} of ${r.pages} (${r.total} record${r.total === 1 ? '' : 's'}, ${PAGE_SIZE} per page)</span>${
      r.page < r.pages ? link(r.page + 1, 'Older →') : ''
    }</nav>`;
    const notes = [
      r.error !== undefined ? `<p class="error" role="alert">${esc(r.error)}</p>` : '',
      r.truncated ? '<p class="meta">Only the most recent 16 MiB of the log are shown.</p>' : '',
      r.unreadable > 0 ? `<p class="meta">${r.unreadable} unreadable line(s) skipped.</p>` : '',
    ].join('');
    page(
      res,
      s,
      'audit',
      'Audit timeline',
      `${form}${notes}${table(
        'Audit records, newest first',
        ['time', 'agent', 'tool', 'decision', 'request', 'status', 'result', 'ms'],
        rows,
      )}${pager}`,
    );
  }

  function agentsPage(res: Res, s: ConsoleSession): void {
    const p = opts.policy;
    const agents = p.agents();
    const grantOf = (agent: string, resource: Resource): Grant => {
      if (p.grantFor !== undefined) return p.grantFor(agent, resource);
      const visible = tools.filter((t) => t.resource === resource && p.isAllowed(agent, t));
      if (visible.some((t) => t.access === 'write')) return 'write';
      return visible.length > 0 ? 'read' : 'none';
    };
    const rows = agents.map((agent) => [
      `<th scope="row">${esc(agent)}${p.consoleConfirm?.(agent) === true ? ' <span class="meta">(console approvals)</span>' : ''}</th>`,
      ...RESOURCES.map((resource) => {
        const all = tools.filter((t) => t.resource === resource);
        const seen = all.filter((t) => p.isAllowed(agent, t)).length;
        const g = grantOf(agent, resource);
        return `<td class="grant-${g}">${esc(g)}<br><span class="meta">${seen}/${all.length}</span></td>`;
      }),
    ]);
    const mark = (m: ConfirmationMode) =>
      m === 'none' ? '' : m === 'human_secret' ? ' (confirmation + secret)' : ' (confirmation)';
    const details = agents
      .map((agent) => {
        const visible = tools.filter((t) => p.isAllowed(agent, t));
        return `<details><summary>${esc(agent)}: ${visible.length} tool${visible.length === 1 ? '' : 's'}</summary><ul>${visible
          .map((t) => `<li><code>${esc(t.name)}</code>${esc(mark(p.confirmationMode(agent, t)))}</li>`)
          .join('')}</ul></details>`;
      })
      .join('');
    page(
      res,
      s,
      'agents',
      'Agents & grants',
      `${table("Grant of each agent on each resource, and how many of the resource's tools the agent sees", ['agent', ...RESOURCES], rows)}
<h2>Tools each agent sees</h2><p class="meta">(confirmation): needs a human's yes; (confirmation + secret): also the confirmation secret.</p>${details}`,
    );
  }

  function budgetPage(res: Res, s: ConsoleSession): void {
    const list = opts.budget?.() ?? [];
    const n = (v: number | undefined) => (v === undefined ? 'unknown' : String(v));
    const body =
      list.length === 0
        ? '<p class="meta">No budget information (no Keap call yet, or not available in this mode).</p>'
        : table(
            "Keap's rate-limit budget per credential, as last reported by Keap",
            ['credential', 'per-second throttle left', 'quota left', 'tenant budget left', 'as of'],
            list.map((b) => [
              td(b.credential),
              td(n(b.throttleAvailable), 'num'),
              td(n(b.quotaAvailable), 'num'),
              td(n(b.tenantAvailable), 'num'),
              td(b.at !== undefined ? `${isoTime(b.at)} (${humanAge(now() - b.at)} ago)` : 'no call yet'),
            ]),
          );
    page(res, s, 'budget', 'Keap budget', body);
  }

  function sessionsPage(res: Res, s: ConsoleSession): void {
    const list = opts.sessions?.() ?? [];
    const body =
      list.length === 0
        ? '<p class="meta">No MCP sessions are open (over stdio there is one client, not listed here).</p>'
        : table(
            'Open MCP sessions',
            ['session', 'agent', 'age', 'idle'],
            list.map((x) => [
              td(x.id),
              td(x.agent),
              td(humanAge(x.age_s * 1000)),
              td(humanAge(x.idle_s * 1000)),
            ]),
          );
    page(res, s, 'sessions', 'Sessions', body);
  }

  const HOOK_DONE: Readonly<Record<string, string>> = {
    verified: 'Re-verified: Keap sent the handshake again and the hook is Verified; events flow again.',
    not_verified:
      'Keap re-sent the handshake but the hook is not Verified: check that Keap can reach this server.',
    failed: 'The re-verify call to Keap failed; nothing changed. See the audit timeline.',
    unknown: 'That is not a hook this server subscribed; nothing was sent.',
  };

  async function hooksPage(req: Req, res: Res, s: ConsoleSession): Promise<void> {
    if (opts.hooks === undefined) {
      return page(res, s, 'hooks', 'Hooks', '<p class="meta">This server keeps no REST hooks inbox.</p>');
    }
    const done = queryOf(req).get('done') ?? '';
    const note = Object.hasOwn(HOOK_DONE, done)
      ? `<p class="status" role="status">${esc(HOOK_DONE[done])}</p>`
      : '';
    const { rows, error } = await opts.hooks.list();
    const action = (key: string | undefined, status: string | undefined) =>
      key !== undefined && (status === 'Inactive' || status === 'Unverified')
        ? `<form method="post" action="/console/hooks/${esc(encodeURIComponent(key))}/verify"><input type="hidden" name="csrf" value="${esc(s.csrf)}"><button type="submit" class="approve" aria-label="${esc(`Re-verify hook ${key}`)}">Re-verify</button></form>`
        : '';
    const body =
      rows.length === 0
        ? '<p class="meta">No subscriptions: agents subscribe with subscribe_events.</p>'
        : table(
            "This server's REST hook subscriptions: Keap's status and what the receiver got",
            [
              'event',
              'hook key',
              'status at Keap',
              'handshake',
              'last delivery',
              'events stored',
              'subscribed by',
              '',
            ],
            rows.map((r) => [
              td(r.eventKey),
              td(r.hookKey ?? '(not created)'),
              td(r.status ?? 'unknown'),
              td(r.verifiedAt !== undefined ? isoTime(r.verifiedAt) : 'never'),
              td(r.lastDeliveryAt !== undefined ? isoTime(r.lastDeliveryAt) : 'never'),
              td(r.eventsStored, 'num'),
              td(r.agent),
              `<td>${action(r.hookKey, r.status)}</td>`,
            ]),
          );
    page(
      res,
      s,
      'hooks',
      'Hooks',
      `${note}${error !== undefined ? `<p class="error" role="alert">${esc(error)}</p>` : ''}<p class="meta">Keap stops delivering to a hook after four failed deliveries (Inactive). Re-verify asks Keap to repeat the handshake; this server answers it and the hook becomes Verified again. Events Keap gave up on while it was Inactive are not re-sent.</p>${body}`,
    );
  }

  // ---- actions ---------------------------------------------------------------------------------

  async function reverify(req: Req, res: Res, s: ConsoleSession, key: string) {
    if ((await checkedForm(req, res, s)) === undefined) return;
    if (opts.hooks === undefined) return redirect(res, '/console/hooks?done=unknown');
    const r = await opts.hooks.verify(key, `operator:${s.ref}`);
    const done = r.ok
      ? r.status === 'Verified'
        ? 'verified'
        : 'not_verified'
      : r.error?.startsWith('not a hook')
        ? 'unknown'
        : 'failed';
    redirect(res, `/console/hooks?done=${done}`);
  }

  async function login(req: Req, res: Res): Promise<void> {
    const remote = req.socket.remoteAddress;
    if (!sameOrigin(req)) return message(res, 403, 'Refused', 'Cross-site login refused.');
    if (!sessions.loginAllowed(remote)) {
      return loginPage(res, 429, 'Too many wrong tokens from this address. Wait 15 minutes and try again.');
    }
    const form = await readForm(req);
    if (typeof form === 'string') return loginPage(res, form === 'too_large' ? 413 : 400, 'Bad request.');
    const token = form.get('token') ?? '';
    if (tokenHash === undefined || token === '' || !operatorTokenMatches(token, tokenHash)) {
      sessions.loginFailed(remote);
      refuse(req, 'wrong_token', 'operator console login');
      return loginPage(res, 401, 'Wrong operator token.');
    }
    const s = sessions.create(remote);
    opts.logger?.info({ remote, operator: s.ref }, 'console login');
    redirect(res, '/console/approvals', {
      'set-cookie': setCookie(req, s.id, Math.floor(SESSION_TTL_MS / 1000)),
    });
  }

  /** CSRF and same-origin check of a state-changing request; answers 403 and returns false when it fails. */
  async function checkedForm(req: Req, res: Res, s: ConsoleSession): Promise<URLSearchParams | undefined> {
    if (!sameOrigin(req)) {
      message(res, 403, 'Refused', 'Cross-site request refused: this form must be sent from the console.', s);
      return undefined;
    }
    const form = await readForm(req);
    if (typeof form === 'string') {
      message(res, form === 'too_large' ? 413 : 400, 'Bad request', 'The form could not be read.', s);
      return undefined;
    }
    if (!safeEqual(form.get('csrf') ?? '', s.csrf)) {
      message(
        res,
        403,
        'Refused',
        'The form is missing its security token or is stale. Reload the console and try again.',
        s,
      );
      return undefined;
    }
    return form;
  }

  async function decide(req: Req, res: Res, s: ConsoleSession, id: string, action: string) {
    if ((await checkedForm(req, res, s)) === undefined) return;
    const operator = `operator:${s.ref}`;
    const r =
      action === 'approve'
        ? await opts.approvals.approve(id, operator)
        : await opts.approvals.deny(id, operator);
    opts.logger?.info(
      { approval: id.slice(0, 8), action, ok: r.ok, operator },
      r.ok ? 'console decision' : 'console decision not applied',
    );
    redirect(
      res,
      `/console/approvals?done=${r.ok ? (action === 'approve' ? 'approved' : 'denied') : r.reason}`,
    );
  }

  async function logout(req: Req, res: Res, s: ConsoleSession) {
    if ((await checkedForm(req, res, s)) === undefined) return;
    sessions.delete(s.id);
    redirect(res, '/console/login?bye=1', { 'set-cookie': setCookie(req, '', 0) });
  }

  // ---- routing ---------------------------------------------------------------------------------

  async function route(req: Req, res: Res, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (!hostAllowed(req.headers.host)) {
      refuse(req, 'foreign_host', `Host: ${req.headers.host ?? '(none)'}`);
      return send(res, 403, 'text/plain; charset=utf-8', 'Invalid Host header');
    }
    const origin = req.headers.origin;
    if (typeof origin === 'string' && !originAllowed(origin)) {
      refuse(req, 'foreign_origin', `Origin: ${origin}`);
      return send(res, 403, 'text/plain; charset=utf-8', 'Invalid Origin');
    }
    const isApi = path.startsWith('/console/api/');
    if (path === '/console/login') {
      if (method === 'GET') {
        if (sessions.get(sessionCookie(req)) !== undefined) return redirect(res, '/console/approvals');
        const bye = queryOf(req).get('bye') === '1';
        return loginPage(res, 200, undefined, bye ? 'You are logged out.' : undefined);
      }
      if (method === 'POST') return login(req, res);
      return send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed', { allow: 'GET, POST' });
    }
    const s = sessions.get(sessionCookie(req));
    if (s === undefined) {
      if (isApi) {
        return json(res, 401, {
          error: 'unauthorized',
          message: 'Log in to the operator console first; agent tokens do not open it.',
        });
      }
      return redirect(res, '/console/login');
    }
    pendingNow = (await opts.approvals.listPending()).length;
    if (method === 'POST') {
      const m = /^\/console\/approvals\/([A-Za-z0-9_-]{1,64})\/(approve|deny)$/.exec(path);
      if (m !== null) return decide(req, res, s, m[1] as string, m[2] as string);
      if (path === '/console/logout') return logout(req, res, s);
      const h = /^\/console\/hooks\/([0-9A-Za-z_-]{1,64})\/verify$/.exec(path);
      if (h !== null) return reverify(req, res, s, h[1] as string);
      return message(res, 404, 'Not found', 'There is no such page in the console.', s);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed', { allow: 'GET, POST' });
    }
    switch (path) {
      case '/console':
      case '/console/':
        return redirect(res, '/console/approvals');
      case '/console/approvals':
        return approvalsPage(req, res, s);
      case '/console/api/approvals':
        return json(res, 200, await pendingFragment(s.csrf));
      case '/console/audit':
        return auditPage(req, res, s);
      case '/console/agents':
        return agentsPage(res, s);
      case '/console/budget':
        return budgetPage(res, s);
      case '/console/sessions':
        return sessionsPage(res, s);
      case '/console/hooks':
        return hooksPage(req, res, s);
      default:
        if (isApi) return json(res, 404, { error: 'not_found', message: 'Not found' });
        return message(res, 404, 'Not found', 'There is no such page in the console.', s);
    }
  }

  return {
    enabled,
    async handle(req, res) {
      const path = pathOf(req);
      if (path !== '/console' && !path.startsWith('/console/')) return false;
      if (!enabled) return false;
      try {
        await route(req, res, path);
      } catch (e) {
        opts.logger?.error({ err: e instanceof Error ? e.message : String(e) }, 'console request failed');
        if (e instanceof StateUnavailableError) {
          // Approvals live in the shared state store (Redis), which is unreachable right now.
          send(
            res,
            503,
            'text/plain; charset=utf-8',
            'The shared state store (Redis) is unreachable, so approvals cannot be shown or decided right now. Reload in a few seconds.',
            { 'retry-after': '5' },
          );
        } else send(res, 500, 'text/plain; charset=utf-8', 'Internal error');
      }
      return true;
    },
  };
}
