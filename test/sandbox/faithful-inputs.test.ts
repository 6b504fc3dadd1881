/**
 * Issue "Faithful inputs" (sandbox side): for every write operation the catalog covers, Keap's documents are the
 * judge of what a request body may carry.
 *
 * - The fixtures of each operation together carry EVERY documented request-body property (at any depth; checked
 *   against the document, so a property the document adds fails this file). Each fixture is accepted, the answer
 *   validates against the document, and the read named by the case returns every sent value whose path the read's
 *   documented response has (a listed, reasoned exception aside).
 * - A stray key at the top level and inside every documented object of the fixture → 400 naming it, no effect.
 * - Every documented `date`, `date-time`, `integer` and `enum` property of a fixture gets bad values → 400 naming
 *   the property.
 */
import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { call, control, expectValid, type Res, useSandbox } from './core-http.js';
import {
  abstractPath,
  concretePaths,
  type DocProp,
  getAt,
  missingProps,
  requestProps,
  responseProps,
  setAt,
} from './doc-body.js';
import { specsAvailable } from './openapi-helper.js';

let sb: RunningSandbox;
useSandbox((s) => {
  sb = s;
});

type Row = { id: number } & Record<string, any>;
const rows = (t: string): Row[] => sb.api.table<Row>(t).all();

interface Ids {
  contact: string;
  pmContact: string;
  pm: string;
  company: string;
  user: string;
  stage: string;
  stage2: string;
  opportunity: string;
  product: string;
  plan: string;
  planProduct: string;
  category: string;
  tag: string;
  campaign: string;
  sequence: string;
  goalIntegration: string;
  goalCall: string;
  goalId: string;
  goalCampaign: string;
  cf: Record<string, { id: string; type: string; options: string[] }[]>;
}

interface ReadBack {
  version: 'v1' | 'v2';
  template: string;
  path: string;
  query?: Record<string, string>;
  /** Where in the read's body the record is (e.g. 'tasks[0]'); '' = the body. */
  at?: string;
}

interface Case {
  name: string;
  version: 'v1' | 'v2';
  method: string;
  template: string;
  path: (ids: Ids) => string;
  bodies: (ids: Ids) => Record<string, unknown>[];
  query?: Record<string, string>;
  /** How to read the written record back; undefined = compare the write's own answer. */
  read?: (ids: Ids, res: Res, body: Record<string, unknown>) => ReadBack;
  /** Abstract request paths whose echo is not expected, with the reason. */
  notEchoed?: Record<string, string>;
}

const B64 = Buffer.from('hello sandbox').toString('base64');
const T1 = '2027-03-04T05:06:07Z';
const T2 = '2027-04-05T06:07:08Z';

function cfValues(ids: Ids, kind: string): { id: string; content: unknown }[] {
  return (ids.cf[kind] ?? []).map((f) => {
    switch (f.type) {
      case 'WHOLE_NUMBER':
        return { id: f.id, content: 42 };
      case 'YEAR':
        return { id: f.id, content: 1999 };
      case 'DECIMAL_NUMBER':
      case 'CURRENCY':
      case 'PERCENT':
        return { id: f.id, content: 12.5 };
      case 'DATE':
        return { id: f.id, content: '2027-02-28' };
      case 'DATE_TIME':
        return { id: f.id, content: T1 };
      case 'YES_NO':
        return { id: f.id, content: true };
      case 'DROPDOWN':
      case 'RADIO':
        return { id: f.id, content: f.options.at(-1) };
      case 'LIST_BOX':
        return { id: f.id, content: f.options.slice(0, 2) };
      default:
        return { id: f.id, content: `faithful ${f.id}` };
    }
  });
}

const address = {
  country: 'United States',
  line1: '1 Faithful Way',
  line2: 'Suite 7',
  locality: 'Chandler',
  region: 'Arizona',
  field: 'BILLING',
  country_code: 'USA',
  postal_code: '85224',
  region_code: 'US-AZ',
  zip_code: '85224',
  zip_four: '1234',
};

function contactBody(ids: Ids, n: number): Record<string, unknown> {
  return {
    addresses: [address],
    company: { id: ids.company, company_name: 'ignored when id is given' },
    origin: { ip_address: '203.0.113.7' },
    prefix: 'Dr.',
    suffix: 'Jr.',
    website: 'https://faithful.example.com',
    anniversary_date: '2015-06-20',
    birth_date: '1985-03-15',
    contact_type: 'Customer',
    custom_fields: cfValues(ids, 'contacts'),
    email_addresses: [
      { email: `faithful${n}@example.com`, field: 'EMAIL1', opt_in_reason: 'Asked in person' },
    ],
    family_name: 'Faithful',
    fax_numbers: [{ number: '480-555-0100', type: 'Work', field: 'FAX1' }],
    given_name: `Fay${n}`,
    job_title: 'Tester',
    leadsource_id: '2',
    middle_name: 'Q',
    owner_id: ids.user,
    phone_numbers: [
      {
        extension: '12',
        number: '(480) 555-0101',
        type: 'Mobile',
        field: 'PHONE1',
        number_e164: '+14805550101',
      },
    ],
    preferred_locale: 'en_US',
    preferred_name: 'Fay',
    referral_code: 'REF-1',
    social_accounts: [{ name: 'fayfaithful', type: 'LINKED_IN' }],
    source_type: 'WEBFORM',
    spouse_name: 'Sam',
    time_zone: 'America/Phoenix',
    utm_parameters: {
      keap_source_id: 'src-1',
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_term: 'crm',
      utm_campaign: 'spring',
      utm_content: 'cta',
    },
    assistant_name: 'Ann',
    assistant_phone: '480-555-0102',
    billing_information: 'Net 30',
  };
}

function companyBody(ids: Ids, n: number): Record<string, unknown> {
  return {
    address,
    notes: 'Faithful company notes',
    website: 'https://co.faithful.example.com',
    suffix: 'LLC',
    title: 'HQ',
    company_name: `Faithful Co ${n}`,
    custom_fields: cfValues(ids, 'companies'),
    email_address: {
      email: `co${n}@faithful.example.com`,
      field: 'EMAIL1',
      opt_in_reason: 'Customer asked',
      is_opt_in: true,
      email_opt_status: 'SINGLE_OPT_IN',
    },
    fax_number: { number: '480-555-0200', type: 'Work', field: 'FAX1' },
    phone_number: {
      extension: '9',
      number: '(480) 555-0201',
      type: 'Work',
      field: 'PHONE1',
      number_e164: '+14805550201',
    },
    anniversary_date: '2010-01-31',
    assistant_name: 'Ann',
    assistant_phone: '480-555-0202',
    billing_information: 'Net 15',
    birth_date: '1970-12-31',
    contact_type: 'Other',
    first_name: 'Cora',
    job_title: 'CEO',
    last_name: 'Faithful',
    middle_name: 'B',
    preferred_name: 'Cori',
    owner_id: ids.user,
    referral_code: 'CO-REF',
    spouse_name: 'Chris',
  };
}

function opportunityBody(ids: Ids): Record<string, unknown> {
  return {
    opportunity_title: 'Faithful deal',
    next_action_time: T1,
    next_action_notes: 'Call back',
    opportunity_notes: 'Very faithful',
    estimated_close_time: T2,
    include_in_forecast: true,
    projected_revenue_low: 100.5,
    projected_revenue_high: 900.25,
    contact_id: ids.contact,
    stage_id: ids.stage,
    user_id: ids.user,
    custom_fields: cfValues(ids, 'opportunities'),
    affiliate_id: '3',
  };
}

function itemBody(ids: Ids): Record<string, unknown> {
  return {
    name: 'Faithful item',
    description: 'Item description',
    quantity: 2,
    notes: 'Item notes',
    product_id: ids.planProduct,
    subscription_plan_id: ids.plan,
    subscription_plan_description: 'Monthly plan',
    item_type: 'SUBSCRIPTION',
    price_per_unit: 12.5,
    cost_per_unit: 3.25,
  };
}

function orderBody(ids: Ids): Record<string, unknown> {
  return {
    notes: 'Order notes',
    terms: 'Net 30',
    title: 'Invoice title',
    contact_id: ids.pmContact,
    order_items: [itemBody(ids)],
    order_title: 'Faithful order',
    order_time: T1,
    order_type: 'OFFLINE',
    promo_codes: ['SPRING'],
    lead_affiliate_id: '4',
    sales_affiliate_id: '5',
    shipping_address: {
      line1: '2 Ship St',
      line2: 'Dock 3',
      locality: 'Tempe',
      region: 'Arizona',
      company: 'Faithful Co',
      phone: '480-555-0300',
      zip_code: '85281',
      zip_four: '4321',
      country_code: 'USA',
      first_name: 'Sid',
      middle_name: 'H',
      last_name: 'Shipper',
      is_invoice_to_company: true,
    },
    custom_fields: cfValues(ids, 'orders'),
    sent_time: T1,
    due_time: T2,
    invoice_number: 'INV-777',
    external_create_user: 'importer',
    external_create_time: T1,
    external_update_time: T2,
  };
}

function taskBody(ids: Ids): Record<string, unknown> {
  return {
    title: 'Faithful task',
    description: 'Task description',
    type: 'Call',
    priority: 'ESSENTIAL',
    completed: true,
    completion_time: T1,
    due_time: T2,
    remind_time_mins: 30,
    assigned_to_user_id: ids.user,
    contact_id: ids.contact,
    opportunity_id: ids.opportunity,
    accepted: true,
    custom_fields: cfValues(ids, 'tasks'),
  };
}

const createdOrder: { id?: string } = {};

const CASES: Case[] = [
  {
    name: 'create contact',
    version: 'v2',
    method: 'POST',
    template: '/v2/contacts',
    path: () => '/v2/contacts',
    bodies: (ids) => [contactBody(ids, 1)],
    read: (_ids, res) => ({
      version: 'v2',
      template: '/v2/contacts/{contact_id}',
      path: `/v2/contacts/${res.body.id}`,
    }),
    notEchoed: {
      'company.company_name': 'the company is chosen by id; the read names the chosen company',
      origin: 'the read reports origin.date (creation) besides ip_address',
      utm_parameters:
        "reads list the UTM touches (ContactUtmResponse, camelCase); checked in 'contact extras'",
      'utm_parameters.keap_source_id': 'see utm_parameters',
      'utm_parameters.utm_source': 'see utm_parameters',
      'utm_parameters.utm_medium': 'see utm_parameters',
      'utm_parameters.utm_term': 'see utm_parameters',
      'utm_parameters.utm_campaign': 'see utm_parameters',
      'utm_parameters.utm_content': 'see utm_parameters',
    },
  },
  {
    name: 'update contact',
    version: 'v2',
    method: 'PATCH',
    template: '/v2/contacts/{contact_id}',
    path: (ids) => `/v2/contacts/${ids.contact}`,
    bodies: (ids) => [contactBody(ids, 2)],
    read: (ids) => ({
      version: 'v2',
      template: '/v2/contacts/{contact_id}',
      path: `/v2/contacts/${ids.contact}`,
    }),
    notEchoed: {
      'company.company_name': 'the company is chosen by id',
      origin: 'the read reports origin.date besides ip_address',
      utm_parameters: 'see create contact',
      'utm_parameters.keap_source_id': 'see utm_parameters',
      'utm_parameters.utm_source': 'see utm_parameters',
      'utm_parameters.utm_medium': 'see utm_parameters',
      'utm_parameters.utm_term': 'see utm_parameters',
      'utm_parameters.utm_campaign': 'see utm_parameters',
      'utm_parameters.utm_content': 'see utm_parameters',
    },
  },
  {
    name: 'create company',
    version: 'v2',
    method: 'POST',
    template: '/v2/companies',
    path: () => '/v2/companies',
    bodies: (ids) => [companyBody(ids, 1)],
    read: (_ids, res) => ({
      version: 'v2',
      template: '/v2/companies/{company_id}',
      path: `/v2/companies/${res.body.id}`,
    }),
  },
  {
    name: 'update company',
    version: 'v2',
    method: 'PATCH',
    template: '/v2/companies/{company_id}',
    path: (ids) => `/v2/companies/${ids.company}`,
    bodies: (ids) => [companyBody(ids, 2)],
    read: (ids) => ({
      version: 'v2',
      template: '/v2/companies/{company_id}',
      path: `/v2/companies/${ids.company}`,
    }),
  },
  {
    name: 'create opportunity',
    version: 'v2',
    method: 'POST',
    template: '/v2/opportunities',
    path: () => '/v2/opportunities',
    bodies: (ids) => [opportunityBody(ids)],
    read: (_ids, res) => ({
      version: 'v2',
      template: '/v2/opportunities/{opportunity_id}',
      path: `/v2/opportunities/${res.body.id}`,
      query: { fields: 'custom_fields' },
    }),
  },
  {
    name: 'update opportunity',
    version: 'v2',
    method: 'PATCH',
    template: '/v2/opportunities/{opportunity_id}',
    path: (ids) => `/v2/opportunities/${ids.opportunity}`,
    bodies: (ids) => [{ ...opportunityBody(ids), stage_id: ids.stage2 }],
    read: (ids) => ({
      version: 'v2',
      template: '/v2/opportunities/{opportunity_id}',
      path: `/v2/opportunities/${ids.opportunity}`,
      query: { fields: 'custom_fields' },
    }),
  },
  {
    name: 'create order',
    version: 'v2',
    method: 'POST',
    template: '/v2/orders',
    path: () => '/v2/orders',
    bodies: (ids) => [orderBody(ids)],
    read: (_ids, res) => {
      createdOrder.id = res.body.id;
      return { version: 'v2', template: '/v2/orders/{order_id}', path: `/v2/orders/${res.body.id}` };
    },
    notEchoed: {
      title: "the read's `title` is the order title (order_title); the invoice title is not part of OrderV2",
    },
  },
  {
    name: 'add order item',
    version: 'v2',
    method: 'POST',
    template: '/v2/orders/{order_id}/items',
    path: () => `/v2/orders/${createdOrder.id}/items`,
    bodies: (ids) => [itemBody(ids)],
  },
  {
    name: 'record order payment',
    version: 'v2',
    method: 'POST',
    template: '/v2/orders/{order_id}/payments',
    path: () => `/v2/orders/${createdOrder.id}/payments`,
    bodies: (ids) => [
      {
        notes: 'Paid at the desk',
        payment_method_id: ids.pm,
        payment_method_type: 'Check',
        payment_time: T1,
        payment_amount: 1.5,
        apply_to_commissions: true,
        external_source: 'pos',
        external_source_value: 'pos-1',
        external_status_value: 'ok',
        external_create_time: T1,
        external_update_time: T2,
        external_create_user: 'clerk',
      },
    ],
  },
  {
    name: 'create product',
    version: 'v2',
    method: 'POST',
    template: '/v2/products',
    path: () => '/v2/products',
    bodies: () => [
      {
        name: 'Faithful product',
        sku: 'FAITH-1',
        price: 1999,
        active: true,
        description: 'Long description',
        shippable: true,
        weight: 1.25,
        taxable: true,
        inventory: {
          inventory_limit: 5,
          inventory_count: 50,
          out_of_stock_enabled: true,
          email_for_inventory_notifications: 'stock@example.com',
        },
        short_description: 'Short',
        subscription_only: false,
        storefront_hidden: true,
        country_taxable: true,
        state_taxable: false,
        city_taxable: true,
        top_html: '<p>top</p>',
        bottom_html: '<p>bottom</p>',
        is_package: false,
        needs_digital_delivery: true,
        delivery_description: 'Download link by email',
      },
    ],
    read: (_ids, res) => ({
      version: 'v2',
      template: '/v2/products/{product_id}',
      path: `/v2/products/${res.body.id}`,
    }),
  },
  {
    name: 'create subscription',
    version: 'v2',
    method: 'POST',
    template: '/v2/subscriptions',
    path: () => '/v2/subscriptions',
    bodies: (ids) => [
      {
        quantity: 2,
        active: true,
        contact_id: ids.pmContact,
        subscription_plan_id: ids.plan,
        billing_amount: 25.5,
        auto_charge: true,
        max_charge_attempts: 4,
        days_between_retries: 2,
        start_date: '2030-01-15',
        payment_method_id: ids.pm,
        allow_tax: false,
        allow_duplicate: true,
        lead_affiliate_id: '4',
        sale_affiliate_id: '5',
        shipping_address: {
          line1: '3 Sub St',
          line2: 'Apt 1',
          locality: 'Mesa',
          field: 'SHIPPING',
          country_code: 'USA',
          postal_code: '85201',
          region_code: 'US-AZ',
        },
        promo_code: 'SUB10',
        shipping_option_id: '2',
        reason_stopped: 'n/a',
        custom_fields: cfValues(ids, 'subscriptions'),
      },
    ],
    read: (_ids, res) => ({
      version: 'v2',
      template: '/v2/subscriptions/{subscription_id}',
      path: `/v2/subscriptions/${res.body.id}`,
    }),
  },
  {
    name: 'create task',
    version: 'v2',
    method: 'POST',
    template: '/v2/tasks',
    path: () => '/v2/tasks',
    bodies: (ids) => [taskBody(ids)],
    read: (_ids, res) => ({
      version: 'v2',
      template: '/v2/tasks',
      path: '/v2/tasks',
      query: { filter: `id==${res.body.id}`, fields: 'custom_fields' },
      at: 'tasks[0]',
    }),
    notEchoed: {
      remind_time_mins:
        "Keap's document types it an integer with a string enum: no value validates, so reads leave it out",
    },
  },
  {
    name: 'update task',
    version: 'v2',
    method: 'PATCH',
    template: '/v2/tasks/{task_id}',
    path: () => '/v2/tasks/1',
    bodies: (ids) => [taskBody(ids)],
    read: () => ({
      version: 'v2',
      template: '/v2/tasks',
      path: '/v2/tasks',
      query: { filter: 'id==1', fields: 'custom_fields' },
      at: 'tasks[0]',
    }),
    notEchoed: { remind_time_mins: 'see create task' },
  },
  {
    name: 'create note',
    version: 'v2',
    method: 'POST',
    template: '/v2/contacts/{contact_id}/notes',
    path: (ids) => `/v2/contacts/${ids.contact}/notes`,
    bodies: (ids) => [
      {
        title: 'Faithful note',
        text: 'Note text',
        type: 'Call',
        user_id: ids.user,
        is_pinned: true,
        custom_fields: cfValues(ids, 'notes'),
      },
    ],
    read: (ids, res) => ({
      version: 'v2',
      template: '/v2/contacts/{contact_id}/notes',
      path: `/v2/contacts/${ids.contact}/notes`,
      query: { filter: `id==${res.body.id}`, fields: 'custom_fields' },
      at: 'notes[0]',
    }),
  },
  {
    name: 'send email',
    version: 'v2',
    method: 'POST',
    template: '/v2/emails:send',
    path: () => '/v2/emails:send',
    bodies: (ids) => {
      const base = {
        contacts: [ids.contact],
        subject: 'Faithful subject',
        attachments: [{ file_name: 'a.txt', file_data: B64 }],
        html_content: B64,
        plain_content: B64,
        address_field: 'EMAIL1',
      };
      return [
        { ...base, user_id: ids.user },
        { ...base, from_address: 'sender@example.com' },
      ];
    },
  },
  {
    name: 'add contacts to a sequence',
    version: 'v2',
    method: 'POST',
    template: '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts',
    path: (ids) => `/v2/campaigns/${ids.campaign}/sequences/${ids.sequence}:addContacts`,
    bodies: (ids) => [{ contact_ids: [ids.contact] }],
  },
  {
    name: 'remove contacts from a sequence',
    version: 'v2',
    method: 'POST',
    template: '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:removeContacts',
    path: (ids) => `/v2/campaigns/${ids.campaign}/sequences/${ids.sequence}:removeContacts`,
    bodies: (ids) => [{ contact_ids: [ids.contact] }],
  },
  {
    name: 'create tag',
    version: 'v2',
    method: 'POST',
    template: '/v2/tags',
    path: () => '/v2/tags',
    bodies: (ids) => [
      { name: 'Faithful tag', description: 'Tag description', category: { id: ids.category } },
    ],
    read: (_ids, res) => ({ version: 'v2', template: '/v2/tags/{tag_id}', path: `/v2/tags/${res.body.id}` }),
  },
  {
    name: 'apply tags',
    version: 'v2',
    method: 'POST',
    template: '/v2/tags/{tag_id}/contacts:applyTags',
    path: (ids) => `/v2/tags/${ids.tag}/contacts:applyTags`,
    bodies: (ids) => [{ contact_ids: [ids.contact] }],
  },
  {
    name: 'remove tags',
    version: 'v2',
    method: 'POST',
    template: '/v2/tags/{tag_id}/contacts:removeTags',
    path: (ids) => `/v2/tags/${ids.tag}/contacts:removeTags`,
    bodies: (ids) => [{ contact_ids: [ids.contact] }],
  },
  {
    name: 'achieve a goal',
    version: 'v2',
    method: 'POST',
    template: '/v2/automations/goals/achieve',
    path: () => '/v2/automations/goals/achieve',
    bodies: (ids) => [
      { integration: ids.goalIntegration, call_name: ids.goalCall, contact_id: Number(ids.contact) },
      {
        automation_id: Number(ids.goalCampaign),
        goal_id: Number(ids.goalId),
        contact_id: Number(ids.contact),
      },
    ],
  },
  {
    name: 'deactivate a subscription',
    version: 'v2',
    method: 'POST',
    template: '/v2/subscriptions/{subscription_id}:deactivate',
    path: () => '/v2/subscriptions/1:deactivate',
    bodies: () => [{ reason: 'Customer asked' }],
  },
  {
    name: 'create a hook',
    version: 'v1',
    method: 'POST',
    template: '/v1/hooks',
    path: () => '/v1/hooks',
    bodies: () => [{ eventKey: 'contact.add', hookUrl: 'http://127.0.0.1:9/faithful-hook' }],
  },
];

async function loadIds(): Promise<Ids> {
  const today = new Date().toISOString().slice(0, 10);
  const pmRow = rows('payment_methods').find(
    (p) => `${p.expiration_year}-${p.expiration_month}` >= today.slice(0, 7),
  ) as Row;
  const plan = rows('subscription_plans').find((p) => p.active) as Row;
  const stages = rows('opportunity_stages');
  const seq = rows('campaign_sequences')[0] as Row;
  const apiGoal = rows('campaign_goals').find((g) => g.integration && g.call_name) as Row;
  const cf: Ids['cf'] = {};
  for (const kind of [
    'contacts',
    'companies',
    'opportunities',
    'orders',
    'subscriptions',
    'tasks',
    'notes',
  ]) {
    const r = await call(sb.baseUrl, 'GET', `/v2/${kind}/model`);
    expect(r.status, r.text).toBe(200);
    cf[kind] = r.body.custom_fields.map((f: any) => ({
      id: f.id,
      type: f.field_type,
      options: (f.options ?? []).map((o: any) => o.label),
    }));
  }
  return {
    contact: '3',
    pmContact: String(pmRow.contact_id),
    pm: String(pmRow.id),
    company: '2',
    user: '1',
    stage: String(stages[0]?.id),
    stage2: String(stages[1]?.id),
    opportunity: '1',
    product: '1',
    plan: String(plan.id),
    planProduct: String(plan.product_id),
    category: String(rows('tag_categories')[0]?.id),
    tag: String(rows('tags')[0]?.id),
    campaign: String(seq.campaign_id),
    sequence: String(seq.id),
    goalIntegration: apiGoal.integration,
    goalCall: apiGoal.call_name,
    goalId: String(apiGoal.id),
    goalCampaign: String(apiGoal.campaign_id),
    cf,
  };
}

function send(c: Case, ids: Ids, body: unknown, path = c.path(ids)): Promise<Res> {
  return call(sb.baseUrl, c.method, path, { body, ...(c.query ? { query: c.query } : {}) });
}

/** Concrete locations of documented objects inside a fixture ('' = the body itself). */
function objectLocations(props: readonly DocProp[], body: unknown): string[] {
  const objectPaths = new Set(props.filter((p) => p.object).map((p) => p.path));
  const out = [''];
  for (const { path, value } of concretePaths(body)) {
    if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      objectPaths.has(abstractPath(path))
    ) {
      out.push(path);
    }
  }
  return out;
}

describe.skipIf(!specsAvailable())('faithful inputs: every documented body property, strictly', () => {
  let ids: Ids;

  it('the fixtures carry every documented request-body property of every covered write', async () => {
    ids = await loadIds();
    const gaps: string[] = [];
    for (const c of CASES) {
      const props = requestProps(c.version, c.method, c.template);
      expect(props.length, c.name).toBeGreaterThan(0);
      const union: Record<string, unknown> = Object.assign({}, ...c.bodies(ids));
      for (const m of missingProps(props, union)) gaps.push(`${c.name}: ${m}`);
      for (const b of c.bodies(ids)) {
        for (const p of concretePaths(b)) {
          if (!props.some((d) => d.path === abstractPath(p.path)))
            gaps.push(`${c.name}: undocumented ${p.path}`);
        }
      }
    }
    expect(gaps).toEqual([]);
  });

  it('every fixture is accepted, its answer matches the document, and reads return what was written', async () => {
    ids ??= await loadIds();
    const problems: string[] = [];
    const compared: Record<string, number> = {};
    for (const c of CASES) {
      for (const body of c.bodies(ids)) {
        const r = await send(c, ids, body);
        if (r.status >= 300) {
          problems.push(`${c.name}: ${r.status} ${r.text.slice(0, 300)}`);
          continue;
        }
        expectValid(c.version, c.method, c.template, r.status, r.body);
        const rb = c.read?.(ids, r, body);
        let record: unknown = r.body;
        let respProps = responseProps(c.version, c.method, c.template, r.status);
        if (rb) {
          const got = await call(sb.baseUrl, 'GET', rb.path, rb.query ? { query: rb.query } : {});
          expect(got.status, `${c.name} read: ${got.text}`).toBe(200);
          expectValid(rb.version, 'GET', rb.template, 200, got.body);
          record = rb.at ? getAt(got.body, rb.at) : got.body;
          const prefix = rb.at ? `${abstractPath(rb.at)}.` : '';
          respProps = responseProps(rb.version, 'GET', rb.template, 200)
            .filter((p) => p.path.startsWith(prefix))
            .map((p) => ({ ...p, path: p.path.slice(prefix.length) }));
        }
        const scalar = new Map(respProps.map((p) => [p.path, p]));
        for (const { path, value } of concretePaths(body)) {
          const abs = abstractPath(path);
          if (c.notEchoed?.[abs] !== undefined) continue;
          if (value !== null && typeof value === 'object') continue;
          const doc = scalar.get(abs);
          if (!doc) continue; // the read does not document this property
          if (
            doc.type &&
            doc.type !== 'string' &&
            doc.type !== 'number' &&
            doc.type !== 'integer' &&
            doc.type !== 'boolean'
          )
            continue;
          // custom field values are matched by id (a PATCH merges them into the record's other values)
          const cf = /^custom_fields\[(\d+)\]\.(id|content)$/.exec(path);
          const echoed = cf
            ? (getAt(record, 'custom_fields') as { id: string; content: unknown }[] | undefined)?.find(
                (f) => f.id === getAt(body, `custom_fields[${cf[1]}].id`),
              )?.[cf[2] as 'id' | 'content']
            : getAt(record, path);
          compared[c.name] = (compared[c.name] ?? 0) + 1;
          if (JSON.stringify(echoed) !== JSON.stringify(value)) {
            problems.push(`${c.name}: ${path} sent ${JSON.stringify(value)}, read ${JSON.stringify(echoed)}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    // the echo check is not vacuous: every case with a read compared most of what it sent
    for (const c of CASES.filter((x) => x.read)) {
      expect(compared[c.name] ?? 0, `${c.name} compared`).toBeGreaterThanOrEqual(3);
    }
    expect(Object.values(compared).reduce((a, b) => a + b, 0)).toBeGreaterThan(200);
  });

  it('a stray key at the top level or inside any documented object → 400 naming it, nothing written', async () => {
    ids ??= await loadIds();
    const problems: string[] = [];
    for (const c of CASES) {
      const props = requestProps(c.version, c.method, c.template);
      const body = c.bodies(ids)[0] as Record<string, unknown>;
      for (const loc of objectLocations(props, body)) {
        const field = loc === '' ? 'zz_stray' : `${loc}.zz_stray`;
        const bad = setAt(body, field, 'x');
        const before = await control(sb.baseUrl, 'GET', '/requests');
        const r = await send(c, ids, bad);
        const after = await control(sb.baseUrl, 'GET', '/requests');
        const key = `${c.method} ${c.template}`;
        const effective = (s: Res): number => s.body.routes?.[key]?.effective ?? 0;
        if (r.status !== 400 || !`${r.body?.details?.[0]?.resource} ${r.body?.message}`.includes(field)) {
          problems.push(`${c.name}: stray '${field}' → ${r.status} ${r.text.slice(0, 200)}`);
        } else if (effective(after) !== effective(before))
          problems.push(`${c.name}: stray '${field}' had an effect`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('documented date, date-time, integer and enum properties are enforced (400 naming the property)', async () => {
    ids ??= await loadIds();
    const problems: string[] = [];
    let checked = 0;
    for (const c of CASES) {
      const props = requestProps(c.version, c.method, c.template);
      const byPath = new Map(props.map((p) => [p.path, p]));
      for (const body of c.bodies(ids)) {
        for (const { path, value } of concretePaths(body)) {
          const doc = byPath.get(abstractPath(path));
          if (!doc || value === null || typeof value === 'object') continue;
          const bads: unknown[] = [];
          if (doc.format === 'date') bads.push('2027-02-30', '03/15/1985', '2027-2-3');
          if (doc.format === 'date-time')
            bads.push('tomorrow', '2027-03-04', '2027-03-04T25:00:00Z', '2027-03-04T05:06:07');
          if (doc.type === 'integer') bads.push(1.5);
          if (doc.enum && doc.type === 'string') bads.push('NOT_A_DOCUMENTED_VALUE');
          for (const v of bads) {
            checked++;
            const r = await send(c, ids, setAt(body, path, v));
            if (r.status !== 400 || !`${r.body?.details?.[0]?.resource} ${r.body?.message}`.includes(path)) {
              problems.push(`${c.name}: ${path}=${JSON.stringify(v)} → ${r.status} ${r.text.slice(0, 160)}`);
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(problems).toEqual([]);
  });
});

describe('contact extras', () => {
  it('utm_parameters: each write records a UTM touch, read back as ContactUtmResponse (first/last touch)', async () => {
    const utm = { keap_source_id: 'src-9', utm_source: 'ads', utm_medium: 'cpc', utm_campaign: 'fall' };
    const c = await call(sb.baseUrl, 'POST', '/v2/contacts', {
      body: { given_name: 'Utm', email_addresses: [{ email: 'utm.touch@example.com' }], utm_parameters: utm },
    });
    expect(c.status, c.text).toBe(201);
    expectValid('v2', 'POST', '/v2/contacts', 201, c.body);
    const p = await call(sb.baseUrl, 'PATCH', `/v2/contacts/${c.body.id}`, {
      body: { utm_parameters: { keap_source_id: 'src-10', utm_content: 'banner' } },
    });
    expect(p.status, p.text).toBe(200);
    const got = await call(sb.baseUrl, 'GET', `/v2/contacts/${c.body.id}`);
    expectValid('v2', 'GET', '/v2/contacts/{contact_id}', 200, got.body);
    const touches = got.body.utm_parameters;
    expect(touches).toHaveLength(2);
    expect(touches[0]).toMatchObject({
      keapSourceId: 'src-9',
      utmSource: 'ads',
      utmMedium: 'cpc',
      utmCampaign: 'fall',
      firstTouch: true,
      lastTouch: false,
    });
    expect(touches[1]).toMatchObject({
      keapSourceId: 'src-10',
      utmContent: 'banner',
      firstTouch: false,
      lastTouch: true,
    });
    // keap_source_id is required inside utm_parameters
    const bad = await call(sb.baseUrl, 'PATCH', `/v2/contacts/${c.body.id}`, {
      body: { utm_parameters: { utm_source: 'x' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].resource).toBe('utm_parameters.keap_source_id');
  });
});
