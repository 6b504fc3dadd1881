/**
 * THE table of risk classes for writes outside the catalog, derived from each operation's facts (method,
 * path, operationId) and its resource: an operation in any class needs a human's confirmation (✋) by default,
 * like the catalog's money, send, subscription and delete tools. The policy can add (confirm_tools) or waive
 * (no_confirm_tools, by operationId) as for any tool. Reads are never in a class.
 */
import type { OperationFact } from '../facts/types.js';
import type { Resource } from '../registry/define.js';

export type RiskClass =
  | 'delete'
  | 'payment'
  | 'send'
  | 'billing'
  | 'merge'
  | 'commission'
  | 'sequence'
  | 'settings';

type Op = Pick<OperationFact, 'operationId' | 'method' | 'path'>;

export const RISK_TABLE: readonly (readonly [RiskClass, (op: Op, resource: Resource) => boolean])[] = [
  ['delete', (op) => op.method === 'DELETE' || /:?(batchRemove|unsync)\b/i.test(op.path)],
  // Money: payments, charges, refunds, cards, payment plans, gateways.
  [
    'payment',
    (op, r) => r === 'payments' || /payment|charge|refund|credit ?card|transaction/i.test(op.operationId),
  ],
  // Messages that reach people.
  ['send', (op) => /send|queue/i.test(op.operationId) || /:send\b|\/queue$/.test(op.path)],
  // Subscriptions and billing: plans, invoices, the subscription itself.
  [
    'billing',
    (op, r) =>
      r === 'subscriptions' ||
      (/subscription|invoice|paymentPlan|billing/i.test(op.operationId) &&
        r !== 'hooks' && // REST hook "subscriptions" are not billing
        r !== 'custom_fields'),
  ],
  ['merge', (op) => /merge/i.test(op.operationId)],
  // Affiliate money: commissions, programs, payouts, clawbacks.
  ['commission', (op) => /commission|payout|clawback|program/i.test(op.operationId)],
  // Contacts put into automations that email them (added to sequences, goals achieved).
  [
    'sequence',
    (op) =>
      op.method === 'POST' &&
      (/\/sequences\/[^/]+(:addContacts|\/contacts)/.test(op.path) || /goals?\b|:achieve/i.test(op.path)),
  ],
  // The account itself: profile, settings, integrations, users, gateways, automations' publishing.
  [
    'settings',
    (op, r) =>
      r === 'settings' ||
      r === 'users' ||
      /publish|setDefault|paymentMethodConfig/i.test(`${op.operationId} ${op.path}`),
  ],
];

/** The risk classes of an operation (empty for reads and ordinary writes). */
export function riskOf(op: Op, resource: Resource): RiskClass[] {
  if (op.method === 'GET') return [];
  return RISK_TABLE.filter(([, test]) => test(op, resource)).map(([c]) => c);
}
