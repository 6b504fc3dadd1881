/**
 * Operations added for "All of Keap behind the same gate" (item 5): v1 appointments, subscription/order/product
 * updates, email reads/templates/templated sends, files. Requests and responses are checked against Keap's
 * documents, and every change is checked through a read.
 */
import { describe, expect, it } from 'vitest';
import { expectValid, type Res, call as rawCall, useSandbox } from './core-http.js';
import { validateRequest } from './openapi-helper.js';

let base: string;
useSandbox((s) => {
  base = s.baseUrl;
});

/** Call with a request checked against the document first, and the response checked after. */
async function doc(
  method: string,
  template: string,
  path: string,
  opts: { body?: unknown; query?: Record<string, string> } = {},
): Promise<Res> {
  const version = template.startsWith('/v1/') ? 'v1' : 'v2';
  expect(validateRequest(version, method, template, opts)).toEqual([]);
  const r = await rawCall(base, method, path, opts);
  expectValid(version, method, template, r.status, r.body);
  return r;
}

async function ledger(kind: string): Promise<any[]> {
  const r = await fetch(`${base}/__sandbox/ledger?kind=${kind}`);
  return ((await r.json()) as any).entries;
}

function expect400(r: Res, field: string): void {
  expect(r.status, r.text).toBe(400);
  expect(r.body.message).toContain(field);
}

describe('v1 appointments', () => {
  const ONE = '/v1/appointments/{appointmentId}';
  it('lists seeded appointments with limit/offset paging and contact/since/until filters', async () => {
    const all = await doc('GET', '/v1/appointments', '/v1/appointments');
    expect(all.status).toBe(200);
    expect(all.body.appointments.length).toBeGreaterThanOrEqual(5);
    expect(all.body.count).toBe(all.body.appointments.length);
    const p1 = await doc('GET', '/v1/appointments', '/v1/appointments', { query: { limit: '2' } });
    expect(p1.body.appointments).toHaveLength(2);
    expect(p1.body.next).toContain('offset=2');
    const p2 = await doc('GET', '/v1/appointments', '/v1/appointments', {
      query: { limit: '2', offset: '2' },
    });
    expect(p2.body.appointments[0].id).toBe(all.body.appointments[2].id);
    const a = all.body.appointments.find((x: any) => x.contact_id !== undefined);
    const byContact = await doc('GET', '/v1/appointments', '/v1/appointments', {
      query: { contact_id: String(a.contact_id) },
    });
    expect(byContact.body.appointments.length).toBeGreaterThan(0);
    expect(byContact.body.appointments.every((x: any) => x.contact_id === a.contact_id)).toBe(true);
    const now = new Date().toISOString();
    const future = await doc('GET', '/v1/appointments', '/v1/appointments', { query: { since: now } });
    const past = await doc('GET', '/v1/appointments', '/v1/appointments', { query: { until: now } });
    expect(future.body.appointments.length).toBeGreaterThan(0);
    expect(past.body.appointments.length).toBeGreaterThan(0);
    expect(future.body.appointments.length + past.body.appointments.length).toBe(
      all.body.appointments.length,
    );
    expect(future.body.appointments.every((x: any) => x.start_date >= now)).toBe(true);
    expect400(await rawCall(base, 'GET', '/v1/appointments', { query: { since: 'yesterday' } }), 'since');
    expect400(await rawCall(base, 'GET', '/v1/appointments', { query: { limit: 'ten' } }), 'limit');
  });

  it('creates an appointment, reads it back, reschedules it (the read shows the new time)', async () => {
    const body = {
      title: 'Strategy session',
      description: 'Plan the spring campaign',
      location: 'Zoom',
      start_date: '2031-03-04T15:00:00.000Z',
      end_date: '2031-03-04T16:00:00.000Z',
      contact_id: 1,
      remind_time: 15,
    };
    const created = await doc('POST', '/v1/appointments', '/v1/appointments', { body });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject(body);
    const id = created.body.id;
    expect(typeof id).toBe('number');
    const got = await doc('GET', ONE, `/v1/appointments/${id}`);
    expect(got.body).toMatchObject({ ...body, id });
    const moved = await doc('PATCH', ONE, `/v1/appointments/${id}`, {
      body: {
        title: 'Strategy session',
        start_date: '2031-03-05T10:30:00Z',
        end_date: '2031-03-05T11:30:00Z',
      },
    });
    expect(moved.status, moved.text).toBe(200);
    const reread = await doc('GET', ONE, `/v1/appointments/${id}`);
    expect(reread.body).toMatchObject({
      start_date: '2031-03-05T10:30:00.000Z',
      end_date: '2031-03-05T11:30:00.000Z',
      location: 'Zoom',
      description: 'Plan the spring campaign',
    });
    // PATCH changes only what is sent
    const loc = await rawCall(base, 'PATCH', `/v1/appointments/${id}`, { body: { location: 'Main office' } });
    expect(loc.status, loc.text).toBe(200);
    expect((await rawCall(base, 'GET', `/v1/appointments/${id}`)).body).toMatchObject({
      location: 'Main office',
      start_date: '2031-03-05T10:30:00.000Z',
    });
    const listed = await rawCall(base, 'GET', '/v1/appointments', {
      query: { since: '2031-01-01T00:00:00Z' },
    });
    expect(listed.body.appointments.map((x: any) => x.id)).toContain(id);
  });

  it('rejects bad input naming the field, and changes nothing', async () => {
    const ok = { title: 'X', start_date: '2031-01-01T10:00:00Z', end_date: '2031-01-01T11:00:00Z' };
    expect400(
      await rawCall(base, 'POST', '/v1/appointments', { body: { ...ok, title: undefined } }),
      'title',
    );
    expect400(
      await rawCall(base, 'POST', '/v1/appointments', { body: { ...ok, start_date: 'tomorrow' } }),
      'start_date',
    );
    expect400(await rawCall(base, 'POST', '/v1/appointments', { body: { ...ok, colour: 'red' } }), 'colour');
    expect400(
      await rawCall(base, 'POST', '/v1/appointments', { body: { ...ok, contact_id: 1, remind_time: 7 } }),
      'remind_time',
    );
    expect400(
      await rawCall(base, 'POST', '/v1/appointments', { body: { ...ok, contact_id: 999999 } }),
      'contact_id',
    );
    expect400(
      await rawCall(base, 'POST', '/v1/appointments', { body: { ...ok, end_date: '2031-01-01T09:00:00Z' } }),
      'end_date',
    );
    const first = (await rawCall(base, 'GET', '/v1/appointments', { query: { limit: '1' } })).body
      .appointments[0];
    const before = (await rawCall(base, 'GET', `/v1/appointments/${first.id}`)).body;
    expect400(
      await rawCall(base, 'PATCH', `/v1/appointments/${first.id}`, {
        body: { start_date: '2031-13-01T00:00:00Z' },
      }),
      'start_date',
    );
    expect((await rawCall(base, 'GET', `/v1/appointments/${first.id}`)).body).toEqual(before);
    const missing = await rawCall(base, 'GET', '/v1/appointments/999999');
    expect(missing.status).toBe(404);
    expect(Object.keys(missing.body)).toEqual(['message']);
  });
});

describe('PATCH subscriptions, orders and products', () => {
  const SUB = '/v2/subscriptions/{subscription_id}';
  const ORDER = '/v2/orders/{order_id}';
  const PRODUCT = '/v2/products/{product_id}';

  it('updates a subscription (the read shows it); deactivating records one cancellation', async () => {
    const list = await rawCall(base, 'GET', '/v2/subscriptions', { query: { page_size: '1000' } });
    const s = list.body.subscriptions.find((x: any) => x.active);
    const path = `/v2/subscriptions/${s.id}`;
    const patched = await doc('PATCH', SUB, path, {
      body: { quantity: 3, billing_amount: 12.5, next_bill_date: '2031-06-01', promo_code: 'SPRING' },
    });
    expect(patched.status, patched.text).toBe(200);
    const got = await doc('GET', SUB, path);
    expect(got.body).toMatchObject({
      quantity: 3,
      billing_amount: 12.5,
      next_bill_date: '2031-06-01',
      promo_code: 'SPRING',
      active: true,
    });
    // update_mask: only the named property changes; a named optional property left out is cleared
    await doc('PATCH', SUB, path, {
      query: { update_mask: 'quantity,promo_code' },
      body: { quantity: 2, billing_amount: 99 },
    });
    const masked = (await rawCall(base, 'GET', path)).body;
    expect(masked).toMatchObject({ quantity: 2, billing_amount: 12.5 });
    expect(masked.promo_code).toBeUndefined();
    // bad input names the field and changes nothing
    expect400(await rawCall(base, 'PATCH', path, { body: { colour: 'red' } }), 'colour');
    expect400(await rawCall(base, 'PATCH', path, { body: { billing_cycle: 'FORTNIGHT' } }), 'billing_cycle');
    expect400(
      await rawCall(base, 'PATCH', path, { body: { next_bill_date: '2031-02-30' } }),
      'next_bill_date',
    );
    expect400(await rawCall(base, 'PATCH', path, { body: { contact_id: '999999' } }), 'contact_id');
    expect400(
      await rawCall(base, 'PATCH', path, { query: { update_mask: 'colour' }, body: { quantity: 1 } }),
      'update_mask',
    );
    expect((await rawCall(base, 'GET', path)).body).toEqual(masked);
    const before = (await ledger('subscription_cancelled')).length;
    const off = await doc('PATCH', SUB, path, { body: { active: false, reason_stopped: 'Customer asked' } });
    expect(off.status, off.text).toBe(200);
    const after = await ledger('subscription_cancelled');
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1).data).toMatchObject({ subscription_id: s.id, reason: 'Customer asked' });
    expect((await rawCall(base, 'GET', path)).body).toMatchObject({
      active: false,
      reason_stopped: 'Customer asked',
    });
    expect((await rawCall(base, 'GET', `/v2/subscriptions/999999`, {})).status).toBe(404);
  });

  it('updates an order (the read shows it), with update_mask and strict bodies', async () => {
    const list = await rawCall(base, 'GET', '/v2/orders', { query: { page_size: '1' } });
    const o = list.body.orders[0];
    const path = `/v2/orders/${o.id}`;
    const patched = await doc('PATCH', ORDER, path, {
      body: {
        order_title: 'Renamed order',
        notes: 'Deliver after 5pm',
        due_time: '2031-07-01T00:00:00Z',
        shipping_address: { line1: '1 Main St', locality: 'Phoenix', zip_code: '85001', country_code: 'US' },
      },
    });
    expect(patched.status, patched.text).toBe(200);
    const got = await doc('GET', ORDER, path);
    expect(got.body).toMatchObject({
      title: 'Renamed order',
      notes: 'Deliver after 5pm',
      due_time: '2031-07-01T00:00:00Z',
      shipping_information: { address: { line1: '1 Main St', locality: 'Phoenix' } },
    });
    await doc('PATCH', ORDER, path, {
      query: { update_mask: 'terms' },
      body: { terms: 'Net 30', notes: 'ignored' },
    });
    expect((await rawCall(base, 'GET', path)).body).toMatchObject({
      terms: 'Net 30',
      notes: 'Deliver after 5pm',
    });
    const before = (await rawCall(base, 'GET', path)).body;
    expect400(await rawCall(base, 'PATCH', path, { body: { order_type: 'MAIL' } }), 'order_type');
    expect400(
      await rawCall(base, 'PATCH', path, { body: { shipping_address: { street: 'x' } } }),
      'shipping_address.street',
    );
    expect400(await rawCall(base, 'PATCH', path, { body: { order_time: 'soon' } }), 'order_time');
    expect400(
      await rawCall(base, 'PATCH', path, { query: { update_mask: 'order_title' }, body: {} }),
      'order_title',
    );
    expect((await rawCall(base, 'GET', path)).body).toEqual(before);
    expect((await rawCall(base, 'PATCH', '/v2/orders/999999', { body: { notes: 'x' } })).status).toBe(404);
  });

  it('updates a product (the read shows it), with update_mask and strict bodies', async () => {
    const path = '/v2/products/1';
    const patched = await doc('PATCH', PRODUCT, path, {
      body: { name: 'Coaching Session (60 min)', price: 12900, inventory_limit: 3, storefront_hidden: true },
    });
    expect(patched.status, patched.text).toBe(200);
    const got = await doc('GET', PRODUCT, path);
    expect(got.body).toMatchObject({
      name: 'Coaching Session (60 min)',
      price: { amount: 12900 },
      storefront_hidden: true,
      inventory: { inventory_limit: 3 },
    });
    await doc('PATCH', PRODUCT, path, {
      query: { update_mask: 'sku' },
      body: { sku: 'COACH-60', name: 'ignored' },
    });
    expect((await rawCall(base, 'GET', path)).body).toMatchObject({
      sku: 'COACH-60',
      name: 'Coaching Session (60 min)',
    });
    const before = (await rawCall(base, 'GET', path)).body;
    expect400(await rawCall(base, 'PATCH', path, { body: { price: 12.5 } }), 'price');
    expect400(
      await rawCall(base, 'PATCH', path, { body: { description: 'not in the update body' } }),
      'description',
    );
    expect400(await rawCall(base, 'PATCH', path, { body: { name: '  ' } }), 'name');
    expect((await rawCall(base, 'GET', path)).body).toEqual(before);
    expect((await rawCall(base, 'PATCH', '/v2/products/999999', { body: { name: 'x' } })).status).toBe(404);
  });
});

describe('emails: one sent email, templates, templated send', () => {
  const decode = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

  it('GET /v2/emails/{id} returns a sent email with its content', async () => {
    const list = await rawCall(base, 'GET', '/v2/emails', { query: { page_size: '1' } });
    const e = list.body.emails[0];
    const got = await doc('GET', '/v2/emails/{id}', `/v2/emails/${e.id}`);
    expect(got.status, got.text).toBe(200);
    expect(got.body).toMatchObject({ id: e.id, subject: e.subject, sent_to_address: e.sent_to_address });
    expect(decode(got.body.plain_content)).toContain(e.subject);
    expect((await rawCall(base, 'GET', '/v2/emails/999999')).status).toBe(404);
    expect400(await rawCall(base, 'GET', '/v2/emails/abc'), 'id');
  });

  it('lists and reads the seeded templates', async () => {
    const list = await doc('GET', '/v2/emails/templates', '/v2/emails/templates');
    expect(list.status, list.text).toBe(200);
    expect(list.body.email_templates.length).toBeGreaterThanOrEqual(3);
    expect(list.body.email_templates[0].text_body).toBeUndefined();
    const p1 = await doc('GET', '/v2/emails/templates', '/v2/emails/templates', {
      query: { page_size: '2', order_by: 'id desc' },
    });
    expect(p1.body.email_templates).toHaveLength(2);
    const p2 = await doc('GET', '/v2/emails/templates', '/v2/emails/templates', {
      query: { page_size: '2', order_by: 'id desc', page_token: p1.body.next_page_token },
    });
    expect(p2.body.email_templates[0].id).toBeLessThan(p1.body.email_templates[1].id);
    const one = await doc(
      'GET',
      '/v2/emails/templates/{email_template_id}',
      `/v2/emails/templates/${list.body.email_templates[0].id}`,
    );
    expect(one.body.text_body).toContain('~Contact.FirstName~');
    expect((await rawCall(base, 'GET', '/v2/emails/templates/999999')).status).toBe(404);
  });

  it('a templated send records exactly one ledger send and one email per contact, readable with content', async () => {
    const tpl = (await rawCall(base, 'GET', '/v2/emails/templates')).body.email_templates.find(
      (t: any) => t.piece_title === 'Welcome email',
    );
    const contacts = (await rawCall(base, 'GET', '/v2/contacts', { query: { page_size: '2' } })).body
      .contacts;
    const before = (await ledger('email_sent')).length;
    const r = await doc('POST', '/v2/emails/templates:send', '/v2/emails/templates:send', {
      body: { template_id: String(tpl.id), contact_ids: contacts.map((c: any) => c.id), user_id: '1' },
    });
    expect(r.status, r.text).toBe(202);
    const sends = await ledger('email_sent');
    expect(sends).toHaveLength(before + 1);
    const entry = sends.at(-1).data;
    expect(entry.template_id).toBe(String(tpl.id));
    expect(entry.contact_ids.map(String)).toEqual(contacts.map((c: any) => c.id));
    const c0 = (await rawCall(base, 'GET', `/v2/contacts/${contacts[0].id}`)).body;
    const sent = await doc('GET', '/v2/emails/{id}', `/v2/emails/${entry.email_ids[0]}`);
    expect(sent.body.contact_id).toBe(contacts[0].id);
    expect(sent.body.subject).toBe(`Welcome aboard, ${c0.given_name ?? ''}!`);
    expect(decode(sent.body.plain_content)).toContain(`Hi ${c0.given_name ?? ''},`);
    expect(decode(sent.body.html_content)).toContain('<p>Thanks for joining us.</p>');
    const listed = await rawCall(base, 'GET', '/v2/emails', {
      query: { filter: `contact_id==${contacts[0].id}` },
    });
    expect(listed.body.emails.map((e: any) => e.id)).toContain(String(entry.email_ids[0]));
  });

  it('rejects a bad templated send naming the field, and sends nothing', async () => {
    const before = (await ledger('email_sent')).length;
    const ok = { template_id: '1', contact_ids: ['1'], user_id: '1' };
    const send = (body: unknown) => rawCall(base, 'POST', '/v2/emails/templates:send', { body });
    expect400(await send({ ...ok, template_id: '999999' }), 'template_id');
    expect400(await send({ ...ok, user_id: undefined }), 'user_id');
    expect400(await send({ ...ok, contact_ids: [] }), 'contact_ids');
    expect400(await send({ ...ok, contact_ids: ['1', '999999'] }), 'contact_ids[1]');
    expect400(await send({ ...ok, address_field: 'email' }), 'address_field');
    expect400(await send({ ...ok, subject: 'x' }), 'subject');
    expect(await ledger('email_sent')).toHaveLength(before);
  });
});

describe('files', () => {
  it('lists seeded files with the documented filters and paging', async () => {
    const all = await doc('GET', '/v2/files', '/v2/files');
    expect(all.status, all.text).toBe(200);
    expect(all.body.files.length).toBeGreaterThanOrEqual(5);
    const f = all.body.files.find((x: any) => x.contact_id !== undefined);
    const byContact = await doc('GET', '/v2/files', '/v2/files', {
      query: { filter: `contact_id==${f.contact_id}` },
    });
    expect(byContact.body.files.length).toBeGreaterThan(0);
    expect(byContact.body.files.every((x: any) => x.contact_id === f.contact_id)).toBe(true);
    const pub = await doc('GET', '/v2/files', '/v2/files', { query: { filter: 'is_public==true' } });
    expect(pub.body.files.length).toBeGreaterThan(0);
    expect(pub.body.files.every((x: any) => x.is_public === true)).toBe(true);
    const docs = await doc('GET', '/v2/files', '/v2/files', {
      query: { filter: 'category==DOCUMENTS;file_box_type==CONTACT' },
    });
    expect(docs.body.files.length).toBeGreaterThan(0);
    expect(
      docs.body.files.every((x: any) => x.category === 'DOCUMENTS' && x.file_box_type === 'CONTACT'),
    ).toBe(true);
    const p1 = await doc('GET', '/v2/files', '/v2/files', {
      query: { page_size: '2', order_by: 'file_name asc' },
    });
    expect(p1.body.files).toHaveLength(2);
    const p2 = await doc('GET', '/v2/files', '/v2/files', {
      query: { page_size: '2', order_by: 'file_name asc', page_token: p1.body.next_page_token },
    });
    expect(p2.body.files[0].file_name > p1.body.files[1].file_name).toBe(true);
    expect400(await rawCall(base, 'GET', '/v2/files', { query: { filter: 'category==PHOTOS' } }), 'filter');
    expect400(await rawCall(base, 'GET', '/v2/files', { query: { filter: 'colour==red' } }), 'filter');
  });

  it('reads one file and its data (Base64 in a JSON string, as documented), sized as the metadata says', async () => {
    const f = (await rawCall(base, 'GET', '/v2/files', { query: { page_size: '1' } })).body.files[0];
    const meta = await doc('GET', '/v2/files/{file_id}', `/v2/files/${f.id}`);
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual(f);
    const data = await doc('GET', '/v2/files/{file_id}:data', `/v2/files/${f.id}:data`);
    expect(data.status).toBe(200);
    expect(data.headers.get('content-type')).toContain('application/json');
    expect(typeof data.body).toBe('string');
    const bytes = Buffer.from(data.body, 'base64');
    expect(bytes.length).toBe(f.file_size);
    expect(bytes.toString('utf8').length).toBeGreaterThan(0);
    expect((await rawCall(base, 'GET', '/v2/files/999999')).status).toBe(404);
    expect((await rawCall(base, 'GET', '/v2/files/999999:data')).status).toBe(404);
    expect400(await rawCall(base, 'GET', '/v2/files/abc'), 'file_id');
  });
});
