/**
 * What a running call tells the client while it runs, besides its result:
 * - `notifications/message` (MCP logging, src/notify.ts, filtered by the session's level): waits for a Keap
 *   rate-limit slot (info), retries (warning), token refreshes (info; warning on failure) and confirmation
 *   outcomes (info).
 * - `notifications/progress`, only when the tools/call request carried `_meta.progressToken`: while waiting for a
 *   rate-limit slot, before each retry, when the request leaves, and while a human answers a confirmation form.
 *
 * Every message is a fixed sentence with numbers, tool names and categories: never an argument, a Keap body, a
 * name, an email, a token or a secret. Notifications are best effort: a failure to send one never fails a call.
 */
import { KeapError, type KeapEvent, type RateWaitReason } from '../keap/types.js';
import { type NotifyData, type NotifyLevel, notify } from '../notify.js';
import type { AuditDecision, Elicit } from '../safety/types.js';
import type { Call } from './call.js';

/** How often a call waiting for a human's answer reports progress (ms). */
export const HUMAN_WAIT_PROGRESS_MS = 5_000;

const WAIT_WORDS: Record<RateWaitReason, string> = {
  per_second: 'per_second',
  per_minute: 'per_minute',
  per_day: 'per_day',
  keap_budget: "Keap's remaining budget",
  throttled: 'a 429 from Keap',
  queue: 'queued behind other calls',
};

interface CallNotices {
  /** The last progress value sent (progress must increase). */
  progress: number;
  /** The call already logged that it waits for a rate-limit slot. */
  waitLogged: boolean;
  /** The human answered the client's form with "accept" (confirmation via elicitation, not token). */
  elicited: boolean;
}

const state = new WeakMap<Call, CallNotices>();

function stateOf(call: Call): CallNotices {
  let s = state.get(call);
  if (s === undefined) {
    s = { progress: 0, waitLogged: false, elicited: false };
    state.set(call, s);
  }
  return s;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

/** A `notifications/message` about this call (on the call's own stream over HTTP). Never throws. */
export function log(call: Call, level: NotifyLevel, message: string, data: NotifyData = {}): void {
  void notify(
    call.ctx,
    level,
    message,
    { tool: call.spec.name, ...data },
    { relatedRequestId: call.extra.requestId },
  ).catch(() => undefined);
}

/** A `notifications/progress` for this call, when the client asked for progress. Never throws. */
export function progress(call: Call, message: string): void {
  const { progressToken, sendNotification } = call.extra;
  if (progressToken === undefined || sendNotification === undefined) return;
  const s = stateOf(call);
  s.progress += 1;
  try {
    void sendNotification({
      method: 'notifications/progress',
      params: { progressToken, progress: s.progress, message },
    }).catch(() => undefined);
  } catch {
    // best effort
  }
}

/** KeapRequest.onEvent for this call: the Keap client's events as log and progress notifications. */
export function keapEvents(call: Call): (e: KeapEvent) => void {
  return (e) => {
    switch (e.kind) {
      case 'rate_wait': {
        const text = `waiting ${seconds(e.waitMs)} for a Keap rate-limit slot (${WAIT_WORDS[e.reason]})`;
        const s = stateOf(call);
        // Logged once per call (the client repeats the event about every second while waiting).
        if (!s.waitLogged) {
          s.waitLogged = true;
          log(call, 'info', text, { wait_ms: Math.round(e.waitMs), category: e.reason });
        }
        progress(call, text);
        return;
      }
      case 'retry': {
        const text = `retrying in ${seconds(e.delayMs)} (attempt ${e.attempt}): ${e.cause}`;
        log(call, 'warning', text, { attempt: e.attempt, retry_in_ms: Math.round(e.delayMs) });
        progress(call, text);
        return;
      }
      case 'token_refresh':
        if (e.outcome === 'refreshed')
          log(call, 'info', 'refreshed the Keap access token', { outcome: 'refreshed' });
        else
          log(call, 'warning', 'refreshing the Keap access token failed', {
            outcome: 'failed',
          });
        return;
      case 'sent':
        log(call, 'debug', `sent to Keap (attempt ${e.attempt})`, { attempt: e.attempt });
        progress(call, `sent to Keap (attempt ${e.attempt}), waiting for the answer`);
        return;
    }
  };
}

/**
 * Wraps the confirmation form's elicitation: progress at once and every HUMAN_WAIT_PROGRESS_MS while the human
 * has not answered (so a client using resetTimeoutOnProgress keeps waiting), and remembers an "accept" so the
 * confirmation is reported as via elicitation.
 */
export function watchHuman(call: Call, elicit: Elicit | undefined): Elicit | undefined {
  if (elicit === undefined) return undefined;
  return async (message, requestedSchema) => {
    const started = Date.now();
    log(call, 'info', "asking the user to confirm in the client's form");
    const tell = () =>
      progress(call, `waiting for the user to confirm (${Math.round((Date.now() - started) / 1000)} s)`);
    tell();
    const timer = setInterval(tell, HUMAN_WAIT_PROGRESS_MS);
    timer.unref?.();
    try {
      const res = await elicit(message, requestedSchema);
      if (res.action === 'accept') stateOf(call).elicited = true;
      return res;
    } finally {
      clearInterval(timer);
    }
  };
}

/** The call's decision changed to `d` (confirmation outcomes and cancellations are told to the client). */
export function noticeDecision(call: Call, d: AuditDecision): void {
  switch (d) {
    case 'confirmed': {
      const via = stateOf(call).elicited ? 'elicitation' : 'token';
      log(call, 'info', `confirmed via ${via}`, { decision: d, via });
      return;
    }
    case 'confirmation_required':
      log(call, 'info', 'confirmation required: nothing was sent; waiting for the user to agree', {
        decision: d,
      });
      return;
    case 'declined':
      log(call, 'info', 'the confirmation was declined or not completed: nothing was sent', { decision: d });
      return;
    case 'cancelled':
      log(
        call,
        'info',
        call.failure instanceof KeapError && call.failure.category === 'outcome_unknown'
          ? 'cancelled after the request was sent: the outcome is unknown'
          : 'cancelled: nothing was changed at Keap',
        { decision: d },
      );
      return;
    default:
      return;
  }
}
