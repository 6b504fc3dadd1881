/**
 * Operations added for "All of Keap behind the same gate" (CRM part): notes get/patch/delete and across contacts,
 * task get/delete, email address opt-in status, contacts merge. Each is called over HTTP, requests and responses
 * are checked against Keap's documents, and every change is checked through a read.
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

function expect400(r: Res, field: string): void {
  expect(r.status, r.text).toBe(400);
  expect(r.body.message).toContain(field);
  expect(r.body.status).toBe('INVALID_ARGUMENT');
}

describe('notes', () => {
  const NOTE = '/v2/contacts/{contact_id}/notes/{note_id}';
  it('GET /v2/notes lists notes of every contact, with filters and paging', async () => {
    const all = await doc('GET', '/v2/notes', '/v2/notes', { query: { page_size: '1000' } });
    expect(all.status).toBe(200);
    const contacts = new Set(all.body.notes.map((n: any) => n.contact_id));
    expect(contacts.size).toBeGreaterThan(5);
    const one = all.body.notes[0];
    const byContact = await doc('GET', '/v2/notes', '/v2/notes', {
      query: { filter: `contact_id==${one.contact_id}` },
    });
    expect(byContact.body.notes.every((n: any) => n.contact_id === one.contact_id)).toBe(true);
    const p1 = await doc('GET', '/v2/notes', '/v2/notes', { query: { page_size: '5', order_by: 'id desc' } });
    expect(p1.body.notes).toHaveLength(5);
    const p2 = await doc('GET', '/v2/notes', '/v2/notes', {
      query: { page_size: '5', order_by: 'id desc', page_token: p1.body.next_page_token },
    });
    expect(Number(p2.body.notes[0].id)).toBeLessThan(Number(p1.body.notes[4].id));
    expect400(await rawCall(base, 'GET', '/v2/notes', { query: { filter: 'colour==red' } }), 'filter');
  });

  it('gets, patches (state visible through reads), moves and deletes a note', async () => {
    const all = await rawCall(base, 'GET', '/v2/notes', { query: { page_size: '1' } });
    const n = all.body.notes[0];
    const path = `/v2/contacts/${n.contact_id}/notes/${n.id}`;
    const got = await doc('GET', NOTE, path);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(n.id);
    const patched = await doc('PATCH', NOTE, path, {
      body: { user_id: '1', text: 'Rescheduled to Friday', type: 'Meeting', is_pinned: true },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ text: 'Rescheduled to Friday', type: 'Meeting' });
    expect(patched.body.pinned_at).toBeTruthy();
    const reread = await doc('GET', NOTE, path);
    expect(reread.body).toMatchObject({ text: 'Rescheduled to Friday', type: 'Meeting' });
    // update_mask: only the named property changes
    await doc('PATCH', NOTE, path, {
      query: { update_mask: 'type' },
      body: { user_id: '1', text: 'ignored', type: 'Call' },
    });
    expect((await rawCall(base, 'GET', path)).body).toMatchObject({
      text: 'Rescheduled to Friday',
      type: 'Call',
    });
    // bad input names the field; nothing changes
    expect400(await rawCall(base, 'PATCH', path, { body: { user_id: '1', colour: 'red' } }), 'colour');
    expect400(await rawCall(base, 'PATCH', path, { body: { text: 'x' } }), 'user_id');
    expect400(await rawCall(base, 'PATCH', path, { body: { user_id: '1', type: 'Telegram' } }), 'type');
    expect400(
      await rawCall(base, 'PATCH', path, { query: { update_mask: 'colour' }, body: { user_id: '1' } }),
      'update_mask',
    );
    // move to another contact
    const other = String(Number(n.contact_id) === 1 ? 2 : 1);
    const moved = await doc('PATCH', NOTE, path, { body: { user_id: '1', contact_id: other } });
    expect(moved.body.contact_id).toBe(other);
    expect((await rawCall(base, 'GET', path)).status).toBe(404);
    const newPath = `/v2/contacts/${other}/notes/${n.id}`;
    expect((await doc('GET', NOTE, newPath)).body.text).toBe('Rescheduled to Friday');
    // delete
    const del = await doc('DELETE', NOTE, newPath);
    expect(del.status).toBe(204);
    expect((await rawCall(base, 'GET', newPath)).status).toBe(404);
    expect((await rawCall(base, 'DELETE', newPath)).status).toBe(404);
    const listed = await rawCall(base, 'GET', '/v2/notes', { query: { filter: `ids==${n.id}` } });
    expect(listed.body.notes).toEqual([]);
  });
});

describe('tasks', () => {
  it('gets and deletes a task', async () => {
    const created = await rawCall(base, 'POST', '/v2/tasks', {
      body: { title: 'Call back', assigned_to_user_id: '1', contact_id: '1' },
    });
    expect(created.status, created.text).toBe(201);
    const path = `/v2/tasks/${created.body.id}`;
    const got = await doc('GET', '/v2/tasks/{task_id}', path);
    expect(got.body).toMatchObject({ id: created.body.id, title: 'Call back', contact_id: '1' });
    const withCf = await doc('GET', '/v2/tasks/{task_id}', path, { query: { fields: 'custom_fields' } });
    expect(Array.isArray(withCf.body.custom_fields)).toBe(true);
    expect400(await rawCall(base, 'GET', path, { query: { fields: 'shoe' } }), 'fields');
    expect((await doc('DELETE', '/v2/tasks/{task_id}', path)).status).toBe(204);
    expect((await rawCall(base, 'GET', path)).status).toBe(404);
    expect((await rawCall(base, 'DELETE', path)).status).toBe(404);
    expect400(await rawCall(base, 'GET', '/v2/tasks/abc'), 'task_id');
  });
});

describe('email address opt-in status', () => {
  const STATUS = '/v2/emailAddresses/{email}/status';
  it('lists statuses with filters', async () => {
    const all = await doc('GET', '/v2/emailAddresses', '/v2/emailAddresses', {
      query: { page_size: '1000' },
    });
    expect(all.body.email_addresses.length).toBeGreaterThan(100);
    const statuses = new Set(all.body.email_addresses.map((e: any) => e.status));
    expect(statuses.has('HARD_BOUNCE')).toBe(true);
    const opted = await doc('GET', '/v2/emailAddresses', '/v2/emailAddresses', {
      query: { filter: 'opted_in==true', page_size: '1000' },
    });
    expect(opted.body.email_addresses.every((e: any) => e.opted_in === true)).toBe(true);
    expect(opted.body.email_addresses.length).toBeLessThan(all.body.email_addresses.length);
    const two = all.body.email_addresses.slice(0, 2).map((e: any) => e.email);
    const byEmail = await doc('GET', '/v2/emailAddresses', '/v2/emailAddresses', {
      query: { filter: `emails==${two.join(',')}` },
    });
    expect(byEmail.body.email_addresses.map((e: any) => e.email).sort()).toEqual([...two].sort());
  });

  it('gets and changes an address status; the contact shows it', async () => {
    const contact = (await rawCall(base, 'GET', '/v2/contacts/2')).body;
    const email = contact.email_addresses[0].email as string;
    const path = `/v2/emailAddresses/${encodeURIComponent(email)}/status`;
    const got = await doc('GET', STATUS, path);
    expect(got.body).toMatchObject({ email, opted_in: contact.email_addresses[0].is_opt_in });
    const out = await doc('PATCH', STATUS, path, { body: { opted_in: false, reason: 'Asked by phone' } });
    expect(out.body).toMatchObject({ email, opted_in: false, status: 'MANUAL' });
    expect((await doc('GET', STATUS, path)).body.opted_in).toBe(false);
    const c2 = (await rawCall(base, 'GET', '/v2/contacts/2')).body.email_addresses[0];
    expect(c2).toMatchObject({
      is_opt_in: false,
      email_opt_status: 'MANUAL',
      opt_in_reason: 'Asked by phone',
    });
    const back = await doc('PATCH', STATUS, path, { body: { opted_in: true, reason: 'Web form' } });
    expect(back.body).toMatchObject({ opted_in: true, status: 'SINGLE_OPT_IN' });
    expect400(await rawCall(base, 'PATCH', path, { body: { opted_in: true } }), 'reason');
    expect400(await rawCall(base, 'PATCH', path, { body: { opted_in: 'yes', reason: 'x' } }), 'opted_in');
    expect400(await rawCall(base, 'PATCH', path, { body: { opted_in: true, reason: 'x', why: 1 } }), 'why');
    expect((await rawCall(base, 'GET', '/v2/emailAddresses/nobody%40nowhere.example/status')).status).toBe(
      404,
    );
    expect400(await rawCall(base, 'GET', '/v2/emailAddresses/not-an-email/status'), 'email');
  });
});

describe('contacts merge', () => {
  it('keeps the contact, fills it from the duplicate, moves its data and deletes the duplicate', async () => {
    const keep = await rawCall(base, 'POST', '/v2/contacts', {
      body: { given_name: 'Dana', email_addresses: [{ email: 'dana@merge.example', field: 'EMAIL1' }] },
    });
    const dup = await rawCall(base, 'POST', '/v2/contacts', {
      body: {
        given_name: 'Danielle',
        family_name: 'Merger',
        email_addresses: [{ email: 'dana.m@merge.example', field: 'EMAIL1' }],
        phone_numbers: [{ number: '555-0100', field: 'PHONE1' }],
      },
    });
    const keepId = keep.body.id as string;
    const dupId = dup.body.id as string;
    const tags = await rawCall(base, 'GET', '/v2/tags', { query: { page_size: '1' } });
    const tagId = tags.body.tags[0].id;
    await rawCall(base, 'POST', `/v2/tags/${tagId}/contacts:applyTags`, { body: { contact_ids: [dupId] } });
    const note = await rawCall(base, 'POST', `/v2/contacts/${dupId}/notes`, {
      body: { user_id: '1', title: 'On the duplicate' },
    });
    expect(note.status, note.text).toBe(201);

    expect400(
      await rawCall(base, 'POST', '/v2/contacts:merge', { body: { contact_id: keepId } }),
      'duplicate_contact_id',
    );
    expect400(
      await rawCall(base, 'POST', '/v2/contacts:merge', {
        body: { contact_id: keepId, duplicate_contact_id: keepId },
      }),
      'duplicate_contact_id',
    );
    expect(
      (
        await rawCall(base, 'POST', '/v2/contacts:merge', {
          body: { contact_id: keepId, duplicate_contact_id: '999999' },
        })
      ).status,
    ).toBe(404);

    const merged = await doc('POST', '/v2/contacts:merge', '/v2/contacts:merge', {
      body: { contact_id: keepId, duplicate_contact_id: dupId },
    });
    expect(merged.status, merged.text).toBe(200);
    expect(merged.body).toMatchObject({ id: keepId, given_name: 'Dana', family_name: 'Merger' });
    expect(merged.body.email_addresses.map((e: any) => e.email)).toEqual([
      'dana@merge.example',
      'dana.m@merge.example',
    ]);
    expect((await rawCall(base, 'GET', `/v2/contacts/${dupId}`)).status).toBe(404);
    const kept = await rawCall(base, 'GET', `/v2/contacts/${keepId}`);
    expect(kept.body.phone_numbers[0].number).toBe('555-0100');
    const notes = await rawCall(base, 'GET', `/v2/contacts/${keepId}/notes`);
    expect(notes.body.notes.map((n: any) => n.title)).toContain('On the duplicate');
    const keptTags = await rawCall(base, 'GET', `/v2/contacts/${keepId}/tags`);
    expect(JSON.stringify(keptTags.body)).toContain(`"${tagId}"`);
  });
});

describe('company tags', () => {
  it('applies, lists and removes a tag on a company; the tag lists the company', async () => {
    const LIST = '/v2/companies/{company_id}/tags';
    const ONE = '/v2/companies/{company_id}/tags/{tag_id}';
    const company = (await rawCall(base, 'GET', '/v2/companies', { query: { page_size: '1' } })).body
      .companies[0];
    const before = await doc('GET', LIST, `/v2/companies/${company.id}/tags`);
    const have = new Set(before.body.tags.map((t: any) => t.tag.id));
    const tags = (await rawCall(base, 'GET', '/v2/tags', { query: { page_size: '100' } })).body.tags;
    const tag = tags.find((t: any) => !have.has(t.id));
    const path = `/v2/companies/${company.id}/tags/${tag.id}`;
    expect((await doc('POST', ONE, path)).status).toBe(204);
    const after = await doc('GET', LIST, `/v2/companies/${company.id}/tags`, {
      query: { order_by: 'applied_time desc' },
    });
    expect(after.body.tags[0].tag.id).toBe(tag.id);
    expect(after.body.tags[0].applied_time).toBeTruthy();
    const tagged = await rawCall(base, 'GET', `/v2/tags/${tag.id}/companies`);
    expect(JSON.stringify(tagged.body)).toContain(`"${company.id}"`);
    const filtered = await doc('GET', LIST, `/v2/companies/${company.id}/tags`, {
      query: { filter: `name==${tag.name}` },
    });
    expect(filtered.body.tags.map((t: any) => t.tag.id)).toContain(tag.id);
    expect((await doc('DELETE', ONE, path)).status).toBe(204);
    const gone = await rawCall(base, 'GET', `/v2/companies/${company.id}/tags`);
    expect(gone.body.tags.map((t: any) => t.tag.id)).not.toContain(tag.id);
    expect((await rawCall(base, 'DELETE', path)).status).toBe(404);
    expect((await rawCall(base, 'POST', `/v2/companies/${company.id}/tags/999999`)).status).toBe(404);
    expect((await rawCall(base, 'GET', '/v2/companies/999999/tags')).status).toBe(404);
  });
});
