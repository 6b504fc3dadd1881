/**
 * The tool catalog contract. Files in tools/ import ONLY this module (and tools/shared/*).
 * A ToolSpec is data: everything cross-cutting (annotations, policy, confirmation, audit,
 * dry-run, idempotency, retries, result shaping) is derived from these fields in src/.
 */
import type { z } from 'zod';
import type { HttpMethod } from '../keap/types.js';

export type { HttpMethod } from '../keap/types.js';

export const RESOURCES = [
  'contacts',
  'tags',
  'companies',
  'opportunities',
  'orders',
  'payments',
  'products',
  'subscriptions',
  'campaigns',
  'emails',
  'notes',
  'tasks',
  'hooks',
  'users',
  // What Keap documents beyond the catalog (the long tail, src/longtail/resources.ts maps every operation).
  'affiliates',
  'appointments',
  'automations',
  'custom_fields',
  'discounts',
  'files',
  'lead_sources',
  'reporting',
  'settings',
] as const;
export type Resource = (typeof RESOURCES)[number];

/**
 * The long-tail tools (src/longtail): `find`/`describe` answer from the operation facts; `read`/`write` run one
 * Keap operation through the chokepoint under a per-call spec derived from the facts.
 */
export type LongtailKind = 'find' | 'describe' | 'read' | 'write';

/**
 * Tools over this server's REST hooks receiver (src/hooks/agent.ts): `subscribe`/`unsubscribe` make and remove
 * Keap hook subscriptions pointing at the receiver, `events` reads the inbox, `health` adds the receiver's view
 * (last delivery, events stored) to list_hooks. Every Keap call they make runs through the chokepoint.
 */
export type HooksKind = 'subscribe' | 'unsubscribe' | 'events' | 'health';

/** The records whose custom fields Keap describes at GET /v2/{model}/model (list_custom_fields' `model`). */
export const CUSTOM_FIELD_MODELS = [
  'contacts',
  'companies',
  'opportunities',
  'orders',
  'subscriptions',
  'tasks',
  'notes',
] as const satisfies readonly Resource[];

export type Access = 'read' | 'write';

/**
 * Kinds of Keap records a confirmation preview reads before a human is asked (src/pipeline/preview.ts knows how
 * to read each): the input holding the id names which kind it is.
 * `contacts`: a list of contact ids; `payment_method`: a card of the call's contact (its `contact_id`, or the
 * contact of the order read for `order`); `sequence`: a sequence of the call's `campaign_id`;
 * `subscription_plan`: a plan found among the products; `order_items`: the products named in the items.
 */
export type PreviewRecord =
  | 'contact'
  | 'contacts'
  | 'user'
  | 'order'
  | 'order_items'
  | 'payment_method'
  | 'subscription'
  | 'subscription_plan'
  | 'campaign'
  | 'sequence'
  | 'tag'
  | 'company'
  | 'opportunity'
  | 'hook';

/** What a confirmation preview reads and shows (data; the machinery is src/pipeline/preview.ts). */
export interface PreviewSpec {
  /** Input key → the kind of record its id names; read (policy-exempt, audited as preview_read) before asking. */
  readonly records?: Readonly<Partial<Record<string, PreviewRecord>>>;
  /** Free text the model wrote, shown quoted and capped after the facts ('base64': decoded first). */
  readonly texts?: Readonly<Partial<Record<string, 'text' | 'base64'>>>;
  /** Money inputs (dollars), shown exactly as sent; nested list members as 'order_items[].price_per_unit'. */
  readonly amounts?: readonly string[];
}

/**
 * A cross-field rule on a tool's input, checked before anything is sent (the error states the rule):
 * `at_least_one`: one or more of `keys` must be present; `exactly_one`: exactly one of them.
 */
export interface InputRule {
  readonly kind: 'at_least_one' | 'exactly_one';
  readonly keys: readonly string[];
}

export interface ToolSpec<Shape extends z.ZodRawShape = z.ZodRawShape> {
  /** Public tool name (snake_case). */
  readonly name: string;
  readonly title: string;
  /** What it does, when to use it, side effects. <= 1000 chars. */
  readonly description: string;
  /** '*' only for the long-tail tools: each call is granted by its operation's own resource. */
  readonly resource: Resource | '*';
  readonly access: Access;
  readonly method: HttpMethod;
  /** Path under the base URL exactly as Keap documents it, e.g. '/v2/contacts/{contact_id}'. */
  readonly path: string;
  /** zod raw shape of the input. Every field must be .describe()d. Path placeholders are fields. */
  readonly input: Shape;
  /**
   * For POST/PATCH/PUT: input keys sent in the query string (e.g. 'duplicate_option', 'update_mask',
   * 'fields'). All other non-path keys go to the JSON body. GET/DELETE send every non-path key as query.
   */
  readonly query?: readonly string[];
  /** For POST/PUT endpoints whose header carries an input (e.g. X-Hook-Secret). Rarely used. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Other names models use for an input → the input's (Keap's) name, e.g. `{ contact_ids: 'contacts' }`.
   * The alias is accepted and renamed before validation; giving both is an input error.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Cross-field rules (see InputRule). */
  readonly rules?: readonly InputRule[];
  /** Needs a human's confirmation by default (money, sends, subscriptions, deletes, sequences). */
  readonly confirm?: boolean;
  /** REST Hook event key the call fires, e.g. 'contact.add'. */
  readonly event?: string;
  /** True when repeating the call has no additional effect (set semantics). Default: GET/PUT/PATCH/DELETE. */
  readonly idempotent?: boolean;
  /** Accepts an optional `idempotency_key` (added by the machinery). */
  readonly idempotencyKey?: boolean;
  /** For list tools: the property of Keap's response holding the items ('contacts'); '' when the body is an array. */
  readonly listKey?: string;
  /** The read tool a model should use to check the outcome of this write, e.g. 'get_order'. */
  readonly checkWith?: string;
  /** The tool that finds valid ids for this tool's path ids (for 404 hints), e.g. 'list_contacts'. */
  readonly findWith?: string;
  /**
   * Plain-words preview of what the call will do, shown to the human before confirmation,
   * e.g. "Charge payment method 12 of contact 7 $25.00 for order 99". Pure function of the input.
   */
  readonly preview?: (input: Readonly<Record<string, unknown>>) => string;
  /** What the confirmation preview reads from Keap and quotes from the input (see PreviewSpec). */
  readonly resolve?: PreviewSpec;
  /** Marks one of the four long-tail tools (see LongtailKind). */
  readonly longtail?: LongtailKind;
  /** Marks a tool over the REST hooks receiver (see HooksKind). */
  readonly hooks?: HooksKind;
  /**
   * Keap's operationId a per-call long-tail spec stands for (set by src/longtail, never in tools/): audited,
   * matched by the policy's tool lists, and part of the confirmation and idempotency scope.
   */
  readonly operation?: string;
  /** For an operation whose JSON body is not an object (an array): the input that is the whole body. */
  readonly bodyArg?: string;
  /** The operation answers with a file's bytes: the result states its size and type, never the bytes. */
  readonly download?: boolean;
}

/**
 * The name confirmations and idempotency keys are bound to: the tool, and for a long-tail call its operation
 * (a token or key given for one operation never applies to another).
 */
export function toolScope(spec: Pick<AnyToolSpec, 'name' | 'operation'>): string {
  return spec.operation === undefined ? spec.name : `${spec.name}:${spec.operation}`;
}

export type AnyToolSpec = ToolSpec<z.ZodRawShape>;

/** Identity helper that keeps per-entry inference and freezes the entry. */
export function defineTool<Shape extends z.ZodRawShape>(spec: ToolSpec<Shape>): ToolSpec<Shape> {
  return Object.freeze(spec);
}
