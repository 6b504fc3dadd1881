/**
 * The endpoint of every tool exactly as issue 3's catalog table states it (independent of tools/), and the
 * area each tool belongs to for the error-path checks.
 */
export const ENDPOINTS: Readonly<Record<string, string>> = {
  list_contacts: 'GET /v2/contacts',
  get_contact: 'GET /v2/contacts/{contact_id}',
  create_contact: 'POST /v2/contacts',
  update_contact: 'PATCH /v2/contacts/{contact_id}',
  delete_contact: 'DELETE /v2/contacts/{contact_id}',
  list_contact_tags: 'GET /v2/contacts/{contact_id}/tags',
  list_tags: 'GET /v2/tags',
  create_tag: 'POST /v2/tags',
  apply_tag: 'POST /v2/tags/{tag_id}/contacts:applyTags',
  remove_tag: 'POST /v2/tags/{tag_id}/contacts:removeTags',
  list_tagged_contacts: 'GET /v2/tags/{tag_id}/contacts',
  list_tagged_companies: 'GET /v2/tags/{tag_id}/companies',
  list_companies: 'GET /v2/companies',
  get_company: 'GET /v2/companies/{company_id}',
  create_company: 'POST /v2/companies',
  update_company: 'PATCH /v2/companies/{company_id}',
  list_opportunities: 'GET /v2/opportunities',
  get_opportunity: 'GET /v2/opportunities/{opportunity_id}',
  create_opportunity: 'POST /v2/opportunities',
  update_opportunity: 'PATCH /v2/opportunities/{opportunity_id}',
  delete_opportunity: 'DELETE /v2/opportunities/{opportunity_id}',
  list_opportunity_stages: 'GET /v2/opportunities/stages',
  list_orders: 'GET /v2/orders',
  get_order: 'GET /v2/orders/{order_id}',
  create_order: 'POST /v2/orders',
  add_order_item: 'POST /v2/orders/{order_id}/items',
  list_order_payments: 'GET /v2/orders/{order_id}/payments',
  create_order_payment: 'POST /v2/orders/{order_id}/payments',
  list_payment_methods: 'GET /v2/contacts/{contact_id}/paymentMethods',
  list_products: 'GET /v2/products',
  get_product: 'GET /v2/products/{product_id}',
  create_product: 'POST /v2/products',
  list_subscriptions: 'GET /v2/subscriptions',
  get_subscription: 'GET /v2/subscriptions/{subscription_id}',
  list_subscription_plans: 'GET /v2/products/{product_id}/subscriptions',
  create_subscription: 'POST /v2/subscriptions',
  cancel_subscription: 'POST /v2/subscriptions/{subscription_id}:deactivate',
  list_campaigns: 'GET /v2/campaigns',
  get_campaign: 'GET /v2/campaigns/{campaign_id}',
  list_campaign_sequences: 'GET /v2/campaigns/{campaign_id}/sequences',
  list_campaign_goals: 'GET /v2/campaigns/{campaign_id}/goals',
  add_contacts_to_sequence: 'POST /v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts',
  remove_contacts_from_sequence: 'POST /v2/campaigns/{campaign_id}/sequences/{sequence_id}:removeContacts',
  achieve_goal: 'POST /v2/automations/goals/achieve',
  send_email: 'POST /v2/emails:send',
  list_emails: 'GET /v2/emails',
  list_notes: 'GET /v2/contacts/{contact_id}/notes',
  create_note: 'POST /v2/contacts/{contact_id}/notes',
  list_tasks: 'GET /v2/tasks',
  create_task: 'POST /v2/tasks',
  update_task: 'PATCH /v2/tasks/{task_id}',
  list_hooks: 'GET /v1/hooks',
  list_hook_event_keys: 'GET /v1/hooks/event_keys',
  create_hook: 'POST /v1/hooks',
  verify_hook: 'POST /v1/hooks/{key}/verify',
  delete_hook: 'DELETE /v1/hooks/{key}',
  list_users: 'GET /v2/users',
  get_current_user: 'GET /v2/oauth/connect/userinfo',
  list_custom_fields: 'GET /v2/{model}/model',
};

/** The tools marked ✋ in the issue (need a human's confirmation by default). */
export const CONFIRM_TOOLS: ReadonlySet<string> = new Set([
  'delete_contact',
  'delete_opportunity',
  'create_order',
  'create_order_payment',
  'create_subscription',
  'cancel_subscription',
  'add_contacts_to_sequence',
  'send_email',
  'delete_hook',
]);

/** An id nothing in the seeded sandbox has. */
export const UNKNOWN_ID = '987654321';

/** A path template as a regex capturing each placeholder's (encoded) value. */
export function templateRegex(template: string): RegExp {
  const src = template
    .split(/(\{[A-Za-z0-9_]+\})/)
    .map((part) =>
      /^\{[A-Za-z0-9_]+\}$/.test(part) ? '([^/:]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${src}$`);
}
