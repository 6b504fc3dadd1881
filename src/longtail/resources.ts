/**
 * THE table that puts every Keap operation (v2 and the v1 operations v2 lacks) under one policy resource, by
 * path: the first row whose pattern matches the operation's path wins. The policy grants resources (none / read /
 * write); a GET needs read, everything else write. test/longtail/tables.test.ts asserts that every operation
 * maps to a resource and that the table agrees with the catalog where a catalog tool covers an operation.
 */
import type { OperationFact } from '../facts/types.js';
import type { Access, Resource } from '../registry/define.js';

export const RESOURCE_TABLE: readonly (readonly [RegExp, Resource])[] = [
  // Custom field definitions (fields, groups, tabs) of every record type.
  [/\/model\/customFields/, 'custom_fields'],
  [/^\/v[12]\/affiliates|^\/v2\/referrals/, 'affiliates'],
  [/^\/v1\/appointments/, 'appointments'],
  // Achieving an API goal starts campaign automations (the catalog's achieve_goal is a campaigns tool).
  [/^\/v2\/automations\/goals|^\/v[12]\/campaigns/, 'campaigns'],
  [/^\/v2\/(automations|automationCategory|easy-automations)/, 'automations'],
  [/^\/v2\/companies/, 'companies'],
  [/^\/v[12]\/contacts\/[^/]+\/tags|^\/v[12]\/tags/, 'tags'],
  [/^\/v2\/contacts\/[^/]+\/notes|^\/v[12]\/notes/, 'notes'],
  [
    /^\/v2\/contacts\/[^/]+\/paymentMethods|^\/v1\/contacts\/[^/]+\/creditCards|^\/v2\/(paymentMethods|paymentMethodConfigs|merchants|sales)|^\/v2\/orders\/[^/]+\/payments|^\/v1\/orders\/[^/]+\/(transactions|paymentPlan)|^\/v1\/transactions/,
    'payments',
  ],
  [/^\/v1\/contacts\/[^/]+\/emails|^\/v[12]\/emails|^\/v[12]\/emailAddresses/, 'emails'],
  [/^\/v[12]\/contacts|^\/v2\/webforms/, 'contacts'],
  [/^\/v2\/discounts/, 'discounts'],
  [/^\/v[12]\/files/, 'files'],
  [/^\/v2\/(leadSources|leadSourceCategories)/, 'lead_sources'],
  [/^\/v2\/(oauth\/connect\/userinfo|users|userGroups)|^\/v1\/users/, 'users'],
  [/^\/v2\/opportunities|^\/v1\/(opportunities|opportunity)\b/, 'opportunities'],
  [/^\/v[12]\/orders|^\/v2\/shipping/, 'orders'],
  [/^\/v2\/products\/[^/]+\/subscriptions|^\/v[12]\/subscriptions/, 'subscriptions'],
  [/^\/v[12]\/products|^\/v2\/(productCategories|productInterestBundles)/, 'products'],
  [/^\/v2\/reporting/, 'reporting'],
  [/^\/v2\/(settings|businessProfile|integrations|locales)|^\/v1\/(setting|account|locales)\//, 'settings'],
  [/^\/v[12]\/tasks/, 'tasks'],
  [/^\/v1\/hooks/, 'hooks'],
];

/** The resource the policy applies to an operation; undefined only for a path the table does not know. */
export function resourceOf(op: Pick<OperationFact, 'path'>): Resource | undefined {
  for (const [re, resource] of RESOURCE_TABLE) if (re.test(op.path)) return resource;
  return undefined;
}

/** GET is a read; everything else is a write. */
export function accessOf(op: Pick<OperationFact, 'method'>): Access {
  return op.method === 'GET' ? 'read' : 'write';
}
