/**
 * A contact's stored payment methods (credit cards, masked): `GET /v2/contacts/{contact_id}/paymentMethods`.
 * Orders and subscriptions charge these (see orders.ts); nothing real ever happens — charges go to the ledger.
 *
 * Table: 'payment_methods'.
 */
import { notFound } from '../core/errors.js';
import { listV2 } from '../core/list.js';
import type { SandboxApi, SbModule, SbRoute } from '../core/types.js';
import { idStr, intBetween, iso, pick } from '../core/util.js';
import { pathId } from '../core/validate.js';
import { contactExists, contactIds } from './commerce-common.js';

export const PAYMENT_METHODS = 'payment_methods';

export type MerchantAccountType =
  | 'PAYPAL'
  | 'UNSUPPORTED'
  | 'AUTHORIZE'
  | 'EWAY'
  | 'WEPAY'
  | 'STRIPE'
  | 'KEAP_PAY';

export interface PaymentMethodRow {
  id: number;
  contact_id: number;
  merchant_account_id: number;
  merchant_account_type: MerchantAccountType;
  card_type: 'CREDIT' | 'DEBIT' | 'PREPAID';
  brand: string;
  last_four: string;
  /** Two digits. */
  expiration_month: string;
  /** Four digits. */
  expiration_year: string;
  fingerprint: string;
  created_time: string;
}

export function paymentMethods(sb: SandboxApi) {
  return sb.table<PaymentMethodRow>(PAYMENT_METHODS);
}

/** A card is expired after the last day of its expiration month. */
export function isExpired(pm: PaymentMethodRow, now: Date): boolean {
  const y = Number(pm.expiration_year);
  const m = Number(pm.expiration_month);
  return now.getTime() >= Date.UTC(y, m, 1);
}

/** The contact's newest unexpired card (Keap's "most recently used card" default). */
export function defaultPaymentMethod(sb: SandboxApi, contactId: number): PaymentMethodRow | undefined {
  const now = sb.now();
  return paymentMethods(sb)
    .all()
    .filter((p) => p.contact_id === contactId && !isExpired(p, now))
    .sort((a, b) => b.id - a.id)[0];
}

function renderPaymentMethod(pm: PaymentMethodRow, now: Date): Record<string, unknown> {
  const out: Record<string, unknown> = {
    contact_id: idStr(pm.contact_id),
    payment_method_id: idStr(pm.id),
    credit_card_id: idStr(pm.id),
    merchant_account_type: pm.merchant_account_type,
    merchant_account_id: idStr(pm.merchant_account_id),
    payment_method_type: 'CARD',
    created_time: pm.created_time,
    card_info: {
      brand: pm.brand,
      fingerprint: pm.fingerprint,
      card_type: pm.card_type,
      last_four: pm.last_four,
      expiration_year: pm.expiration_year,
      expiration_month: pm.expiration_month,
    },
  };
  if (isExpired(pm, now)) out.status = 'EXPIRED';
  return out;
}

const routes: SbRoute[] = [
  {
    method: 'GET',
    path: '/v2/contacts/{contact_id}/paymentMethods',
    handler: (req, sb) => {
      const contactId = pathId(req, 'contact_id');
      if (!contactExists(sb, contactId)) throw notFound('Contact', contactId);
      const now = sb.now();
      return listV2<PaymentMethodRow>(
        req,
        paymentMethods(sb)
          .all()
          .filter((p) => p.contact_id === contactId),
        {
          key: 'records',
          render: (p) => renderPaymentMethod(p, now),
          filter: { merchant_account_id: { get: (p) => p.merchant_account_id, type: 'string' } },
          orderBy: { created_time: (p) => p.created_time },
          defaultOrder: 'created_time desc',
        },
      );
    },
  },
];

const BRANDS = ['Visa', 'MasterCard', 'American Express', 'Discover'] as const;

function seed(sb: SandboxApi): void {
  const rnd = (): number => sb.random();
  const t = paymentMethods(sb);
  const now = sb.now();
  const base = now.getTime();
  const year = now.getUTCFullYear();
  for (const contactId of contactIds(sb)) {
    if (rnd() >= 0.6) continue;
    const cards = rnd() < 0.15 ? 2 : 1;
    for (let k = 0; k < cards; k++) {
      const id = t.nextId();
      // About one card in eight has expired.
      const expired = rnd() < 0.125;
      const expYear = expired ? year - intBetween(rnd, 1, 2) : year + intBetween(rnd, 1, 5);
      const stripe = rnd() < 0.3;
      t.insert({
        id,
        contact_id: contactId,
        merchant_account_id: stripe ? 2 : 1,
        merchant_account_type: stripe ? 'STRIPE' : 'KEAP_PAY',
        card_type: rnd() < 0.8 ? 'CREDIT' : 'DEBIT',
        brand: pick(rnd, BRANDS),
        last_four: String(intBetween(rnd, 0, 9999)).padStart(4, '0'),
        expiration_month: String(intBetween(rnd, 1, 12)).padStart(2, '0'),
        expiration_year: String(expYear),
        fingerprint: `fp_${id.toString(36)}${Math.floor(rnd() * 36 ** 8).toString(36)}`,
        created_time: iso(new Date(base - intBetween(rnd, 30, 700) * 86_400_000)),
      });
    }
  }
}

export const paymentMethodsModule: SbModule = { name: 'payment-methods', routes, seed };
