/** The catalog table of issue 3, encoded verbatim (plus tools added since, marked): name, endpoint, resource, access, confirm (✋), event. */
export interface Row {
  name: string;
  endpoint: string;
  resource: string;
  access: 'read' | 'write';
  confirm: boolean;
  event?: string;
}

const r = (
  name: string,
  endpoint: string,
  resource: string,
  access: 'read' | 'write',
  event?: string,
): Row => ({
  name: name.replace(' ✋', ''),
  endpoint,
  resource,
  access,
  confirm: name.endsWith('✋'),
  ...(event ? { event } : {}),
});

export const TABLE: readonly Row[] = [
  r('list_contacts', 'GET /v2/contacts', 'contacts', 'read'),
  r('get_contact', 'GET /v2/contacts/{contact_id}', 'contacts', 'read'),
  r('create_contact', 'POST /v2/contacts', 'contacts', 'write', 'contact.add'),
  r('update_contact', 'PATCH /v2/contacts/{contact_id}', 'contacts', 'write', 'contact.edit'),
  r('delete_contact ✋', 'DELETE /v2/contacts/{contact_id}', 'contacts', 'write', 'contact.delete'),
  r('list_contact_tags', 'GET /v2/contacts/{contact_id}/tags', 'tags', 'read'),
  r('list_tags', 'GET /v2/tags', 'tags', 'read'),
  r('create_tag', 'POST /v2/tags', 'tags', 'write'),
  r('apply_tag', 'POST /v2/tags/{tag_id}/contacts:applyTags', 'tags', 'write', 'contactGroup.applied'),
  r('remove_tag', 'POST /v2/tags/{tag_id}/contacts:removeTags', 'tags', 'write', 'contactGroup.removed'),
  r('list_tagged_contacts', 'GET /v2/tags/{tag_id}/contacts', 'tags', 'read'),
  r('list_tagged_companies', 'GET /v2/tags/{tag_id}/companies', 'tags', 'read'),
  r('list_companies', 'GET /v2/companies', 'companies', 'read'),
  r('get_company', 'GET /v2/companies/{company_id}', 'companies', 'read'),
  r('create_company', 'POST /v2/companies', 'companies', 'write', 'company.add'),
  r('update_company', 'PATCH /v2/companies/{company_id}', 'companies', 'write', 'company.edit'),
  r('list_opportunities', 'GET /v2/opportunities', 'opportunities', 'read'),
  r('get_opportunity', 'GET /v2/opportunities/{opportunity_id}', 'opportunities', 'read'),
  r('create_opportunity', 'POST /v2/opportunities', 'opportunities', 'write', 'opportunity.add'),
  r(
    'update_opportunity',
    'PATCH /v2/opportunities/{opportunity_id}',
    'opportunities',
    'write',
    'opportunity.edit',
  ),
  r('delete_opportunity ✋', 'DELETE /v2/opportunities/{opportunity_id}', 'opportunities', 'write'),
  r('list_opportunity_stages', 'GET /v2/opportunities/stages', 'opportunities', 'read'),
  r('list_orders', 'GET /v2/orders', 'orders', 'read'),
  r('get_order', 'GET /v2/orders/{order_id}', 'orders', 'read'),
  r('create_order ✋', 'POST /v2/orders', 'orders', 'write', 'order.add'),
  r('add_order_item', 'POST /v2/orders/{order_id}/items', 'orders', 'write'),
  r('list_order_payments', 'GET /v2/orders/{order_id}/payments', 'payments', 'read'),
  r('create_order_payment ✋', 'POST /v2/orders/{order_id}/payments', 'payments', 'write'),
  r('list_payment_methods', 'GET /v2/contacts/{contact_id}/paymentMethods', 'payments', 'read'),
  r('list_products', 'GET /v2/products', 'products', 'read'),
  r('get_product', 'GET /v2/products/{product_id}', 'products', 'read'),
  r('create_product', 'POST /v2/products', 'products', 'write', 'product.add'),
  r('list_subscriptions', 'GET /v2/subscriptions', 'subscriptions', 'read'),
  r('get_subscription', 'GET /v2/subscriptions/{subscription_id}', 'subscriptions', 'read'),
  r('list_subscription_plans', 'GET /v2/products/{product_id}/subscriptions', 'subscriptions', 'read'),
  r('create_subscription ✋', 'POST /v2/subscriptions', 'subscriptions', 'write', 'subscription.add'),
  r(
    'cancel_subscription ✋',
    'POST /v2/subscriptions/{subscription_id}:deactivate',
    'subscriptions',
    'write',
    'subscription.edit',
  ),
  r('list_campaigns', 'GET /v2/campaigns', 'campaigns', 'read'),
  r('get_campaign', 'GET /v2/campaigns/{campaign_id}', 'campaigns', 'read'),
  r('list_campaign_sequences', 'GET /v2/campaigns/{campaign_id}/sequences', 'campaigns', 'read'),
  r('list_campaign_goals', 'GET /v2/campaigns/{campaign_id}/goals', 'campaigns', 'read'),
  r(
    'add_contacts_to_sequence ✋',
    'POST /v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts',
    'campaigns',
    'write',
  ),
  r(
    'remove_contacts_from_sequence',
    'POST /v2/campaigns/{campaign_id}/sequences/{sequence_id}:removeContacts',
    'campaigns',
    'write',
  ),
  r('achieve_goal', 'POST /v2/automations/goals/achieve', 'campaigns', 'write'),
  r('send_email ✋', 'POST /v2/emails:send', 'emails', 'write'),
  r('list_emails', 'GET /v2/emails', 'emails', 'read'),
  r('list_notes', 'GET /v2/contacts/{contact_id}/notes', 'notes', 'read'),
  r('create_note', 'POST /v2/contacts/{contact_id}/notes', 'notes', 'write', 'note.add'),
  r('list_tasks', 'GET /v2/tasks', 'tasks', 'read'),
  r('create_task', 'POST /v2/tasks', 'tasks', 'write', 'task.add'),
  r('update_task', 'PATCH /v2/tasks/{task_id}', 'tasks', 'write'),
  r('list_hooks', 'GET /v1/hooks', 'hooks', 'read'),
  r('list_hook_event_keys', 'GET /v1/hooks/event_keys', 'hooks', 'read'),
  r('create_hook', 'POST /v1/hooks', 'hooks', 'write'),
  r('verify_hook', 'POST /v1/hooks/{key}/verify', 'hooks', 'write'),
  r('delete_hook ✋', 'DELETE /v1/hooks/{key}', 'hooks', 'write'),
  r('list_users', 'GET /v2/users', 'users', 'read'),
  r('get_current_user', 'GET /v2/oauth/connect/userinfo', 'users', 'read'),
  // Added with "Faithful inputs": custom field definitions of the seven record types (GET /v2/{model}/model).
  r('list_custom_fields', 'GET /v2/{model}/model', 'contacts', 'read'),
];

/** Tools that accept the machinery's idempotency_key (brief). */
export const IDEMPOTENCY_KEY_TOOLS = [
  'create_contact',
  'create_order',
  'add_order_item',
  'create_order_payment',
  'create_subscription',
  'send_email',
  'create_note',
  'create_task',
];
