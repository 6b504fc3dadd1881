/**
 * The simulated long tail, live: a real MCP client (elicitation accepted, full-write policy) → createServer → the
 * real Keap client → the sandbox. Each simulated operation is called through call_keap_read / call_keap_write and
 * its effect is checked through a later read (the long tail or a catalog tool), not through the write's own answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { NO_LIMITS, startSandbox } from '../../src/sandbox/server.js';
import { data, FULL_WRITE_POLICY, type Harness, SANDBOX_KEY, startHarness, text } from '../server/harness.js';

type Data = Record<string, any>;

let sandbox: RunningSandbox;
let h: Harness;

beforeAll(async () => {
  sandbox = await startSandbox({
    host: '127.0.0.1',
    port: 0,
    control: true,
    apiKeys: [SANDBOX_KEY],
    limits: NO_LIMITS,
  });
  h = await startHarness({
    policy: FULL_WRITE_POLICY,
    sandbox,
    elicit: () => ({ action: 'accept', content: { confirm: true } }),
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});

/** call_keap_read; fails the test (with the result's text) on an error result. */
async function read(operationId: string, args: Data = {}): Promise<Data> {
  const r = await h.call('call_keap_read', { operationId, arguments: args });
  expect(r.isError, `${operationId}: ${text(r)}`).toBeFalsy();
  return data(r);
}

/** call_keap_read that must fail; returns the error result's structured content. */
async function readFails(operationId: string, args: Data = {}): Promise<Data> {
  const r = await h.call('call_keap_read', { operationId, arguments: args });
  expect(r.isError, `${operationId}: ${text(r)}`).toBe(true);
  return data(r);
}

async function write(operationId: string, args: Data = {}): Promise<Data> {
  const r = await h.call('call_keap_write', { operationId, arguments: args });
  expect(r.isError, `${operationId}: ${text(r)}`).toBeFalsy();
  const d = r.structuredContent ? data(r) : {};
  expect(d.confirmation_required, `${operationId} was not confirmed by the form`).toBeUndefined();
  return d;
}

async function tool(name: string, args: Data = {}): Promise<Data> {
  const r = await h.call(name, args);
  expect(r.isError, `${name}: ${text(r)}`).toBeFalsy();
  return data(r);
}

async function ledger(kind: string): Promise<Data[]> {
  const res = await fetch(`${sandbox.baseUrl}/__sandbox/ledger?kind=${kind}`);
  return ((await res.json()) as { entries: Data[] }).entries;
}

/** A list result's items: the first array-valued property. */
function items(d: Data): Data[] {
  const arr = Object.values(d).find((v) => Array.isArray(v));
  expect(arr, JSON.stringify(d).slice(0, 300)).toBeDefined();
  return arr as Data[];
}

describe('notes and tasks', () => {
  it('GET /v2/notes lists notes; updateNote → getNote shows the new text; deleteNote → getNote is not_found', async () => {
    const notes = items(await read('listAllNotes', { page_size: 50 }));
    expect(notes.length).toBeGreaterThan(1);
    const n = notes[0] as Data;
    const ids = { contact_id: String(n.contact_id), note_id: String(n.id) };
    const before = await read('getNote', ids);
    expect(String(before.id)).toBe(ids.note_id);
    const users = items(await tool('list_users', {}));
    const userId = String((users[0] as Data).id);
    await write('updateNote', {
      ...ids,
      user_id: userId,
      text: 'Patched through the long tail',
      is_pinned: true,
    });
    const after = await read('getNote', ids);
    expect(after.text).toBe('Patched through the long tail');
    expect(after.pinned_at).toEqual(expect.any(String));
    // update_mask: only the named property changes.
    await write('updateNote', {
      ...ids,
      user_id: userId,
      text: 'masked',
      is_pinned: false,
      update_mask: ['is_pinned'],
    });
    const masked = await read('getNote', ids);
    expect(masked.text).toBe('Patched through the long tail');
    expect(masked.pinned_at).toBeUndefined();

    await write('deleteNote', ids);
    const gone = await readFails('getNote', ids);
    expect(gone.error.category).toBe('not_found');
    const left = items(await read('listAllNotes', { page_size: 1000 }));
    expect(left.some((x) => String(x.id) === ids.note_id)).toBe(false);
  });

  it('getTask reads a task; deleteTask → getTask is not_found and list_tasks no longer has it', async () => {
    const tasks = items(await tool('list_tasks', { page_size: 50 }));
    const id = String((tasks[0] as Data).id);
    const t = await read('getTask', { task_id: id });
    expect(String(t.id)).toBe(id);
    await write('deleteTask', { task_id: id });
    const gone = await readFails('getTask', { task_id: id });
    expect(gone.error.category).toBe('not_found');
    const after = items(await tool('list_tasks', { page_size: 1000 }));
    expect(after.some((x) => String(x.id) === id)).toBe(false);
  });
});

describe('contacts', () => {
  it('mergeContacts: the duplicate is gone, its tags and notes moved to the kept contact', async () => {
    const keep = await tool('create_contact', {
      given_name: 'Keep',
      email_addresses: [{ email: 'keep.live@example.com', field: 'EMAIL1' }],
    });
    const dup = await tool('create_contact', {
      given_name: 'Dup',
      email_addresses: [{ email: 'dup.live@example.com', field: 'EMAIL1' }],
    });
    const keepId = String(keep.id ?? keep.contact?.id);
    const dupId = String(dup.id ?? dup.contact?.id);
    expect(keepId).toMatch(/^\d+$/);
    expect(dupId).toMatch(/^\d+$/);
    const tags = items(await tool('list_tags', { page_size: 5 }));
    const tagId = String((tags[0] as Data).id);
    await tool('apply_tag', { tag_id: tagId, contact_ids: [dupId] });
    const users = items(await tool('list_users', {}));
    const note = await tool('create_note', {
      contact_id: dupId,
      user_id: String((users[0] as Data).id),
      title: 'Moved',
      text: 'follows the merge',
    });
    const noteId = String(note.id ?? note.note?.id);

    await write('mergeContacts', { contact_id: keepId, duplicate_contact_id: dupId });

    const gone = await h.call('get_contact', { contact_id: dupId });
    expect(gone.isError, text(gone)).toBe(true);
    expect(data(gone).error.category).toBe('not_found');
    const kept = items(await tool('list_contact_tags', { contact_id: keepId }));
    expect(kept.map((t) => String(t.tag?.id ?? t.id))).toContain(tagId);
    const moved = await read('getNote', { contact_id: keepId, note_id: noteId });
    expect(moved.text).toBe('follows the merge');
  });

  it('email opt-in status: list, get, patch → get and the list show it', async () => {
    const list = items(await read('listEmailAddressStatuses', { page_size: 20 }));
    expect(list.length).toBeGreaterThan(0);
    const email = String((list[0] as Data).email);
    const before = await read('getEmailAddressStatus', { email });
    expect(before.email).toBe(email);
    const optedIn = !before.opted_in;
    await write('updateEmailAddressOptStatus', { email, opted_in: optedIn, reason: 'Asked on the phone' });
    const after = await read('getEmailAddressStatus', { email });
    expect(after.opted_in).toBe(optedIn);
    expect(after.status).toBe(optedIn ? 'SINGLE_OPT_IN' : 'MANUAL');
    const again = items(await read('listEmailAddressStatuses', { page_size: 1000 }));
    expect(again.find((s) => s.email === email)?.opted_in).toBe(optedIn);
  });

  it('model reads return custom field definitions', async () => {
    for (const id of [
      'retrieveContactModel',
      'retrieveCompanyCustomFieldModel',
      'retrieveOpportunityCustomFieldModel',
      'retrieveNoteModel',
      'retrieveTaskModel',
    ]) {
      const m = await read(id);
      expect(Array.isArray(m.custom_fields), `${id}: ${JSON.stringify(m).slice(0, 200)}`).toBe(true);
      expect(m.custom_fields.length, id).toBeGreaterThan(0);
      expect(m.custom_fields[0]).toHaveProperty('id');
    }
  });
});

describe('opportunities', () => {
  it("update_opportunity's stage change is recorded as a stage move (list and get)", async () => {
    const opps = items(await tool('list_opportunities', { page_size: 5 }));
    const opp = opps[0] as Data;
    const oppId = String(opp.id);
    const stages = items(await tool('list_opportunity_stages', {}));
    const current = String(opp.stage?.id ?? opp.stage_id ?? '');
    const target = stages.find((s) => String(s.id) !== current) as Data;
    expect(target).toBeDefined();
    const before = items(await read('listOpportunityStageMoves', { page_size: 1000 }));
    await tool('update_opportunity', { opportunity_id: oppId, stage_id: String(target.id) });
    const after = items(await read('listOpportunityStageMoves', { page_size: 1000 }));
    expect(after.length).toBe(before.length + 1);
    const move = after.find((m) => !before.some((b) => b.id === m.id)) as Data;
    expect(String(move.opportunity_id)).toBe(oppId);
    const got = await read('getOpportunityStageMove', { stage_move_id: String(move.id) });
    expect(String(got.id)).toBe(String(move.id));
    expect(JSON.stringify(got)).toContain(String(target.id));
  });
});

describe('account reads', () => {
  it('lead sources, affiliates and reports list non-empty; get by id; a report run returns rows', async () => {
    const sources = items(await read('listLeadSources'));
    expect(sources.length).toBeGreaterThan(0);
    const s = await read('getLeadSource', { lead_source_id: String((sources[0] as Data).id) });
    expect(s.name).toBe((sources[0] as Data).name);
    const affiliates = items(await read('listAffiliate'));
    expect(affiliates.length).toBeGreaterThan(0);
    const a = await read('getAffiliate', { id: String((affiliates[0] as Data).id) });
    expect(String(a.id)).toBe(String((affiliates[0] as Data).id));
    const reports = items(await read('listReports'));
    expect(reports.length).toBeGreaterThan(0);
    const reportId = String((reports[0] as Data).id);
    const r = await read('retrieveReport', { report_id: reportId });
    expect(String(r.id)).toBe(reportId);
    const run = await write('runReport', { report_id: reportId, runReportRequest: { page_size: 10 } });
    expect(items(run).length).toBeGreaterThan(0);
  });
});

describe('company tags', () => {
  it('addTagToCompany → listTagsForCompany shows it; removeTagFromCompany → gone', async () => {
    const companies = items(await tool('list_companies', { page_size: 5 }));
    const companyId = String((companies[0] as Data).id);
    const tag = await tool('create_tag', { name: 'Live company tag' });
    const tagId = String(tag.id ?? tag.tag?.id);
    const before = items(await read('listTagsForCompany', { company_id: companyId }));
    expect(before.some((t) => String(t.id) === tagId)).toBe(false);
    await write('addTagToCompany', { company_id: companyId, tag_id: tagId });
    const after = items(await read('listTagsForCompany', { company_id: companyId }));
    expect(after.map((t) => String(t.id ?? t.tag?.id))).toContain(tagId);
    const tagged = items(await tool('list_tagged_companies', { tag_id: tagId }));
    expect(tagged.map((c) => String(c.company?.id ?? c.id))).toContain(companyId);
    await write('removeTagFromCompany', { company_id: companyId, tag_id: tagId });
    const removed = items(await read('listTagsForCompany', { company_id: companyId }));
    expect(removed.some((t) => String(t.id ?? t.tag?.id) === tagId)).toBe(false);
  });
});

describe('v1 appointments', () => {
  it('create → list and get show it → patch → get shows the new time', async () => {
    const contacts = items(await tool('list_contacts', { page_size: 1 }));
    const contactId = Number((contacts[0] as Data).id);
    const created = await write('createAppointmentUsingPOST', {
      title: 'Live review',
      start_date: '2031-03-04T10:00:00Z',
      end_date: '2031-03-04T11:00:00Z',
      contact_id: contactId,
      location: 'Room 2',
    });
    const id = created.id;
    expect(typeof id).toBe('number');
    const list = items(await read('listAppointmentsUsingGET', { contact_id: contactId, limit: 1000 }));
    expect(list.some((a) => a.id === id)).toBe(true);
    const got = await read('getAppointmentUsingGET', { appointmentId: id });
    expect(got.title).toBe('Live review');
    await write('updatePropertiesOnAppointmentUsingPATCH', {
      appointmentId: id,
      title: 'Live review',
      start_date: '2031-03-05T14:00:00Z',
      end_date: '2031-03-05T15:30:00Z',
    });
    const moved = await read('getAppointmentUsingGET', { appointmentId: id });
    expect(new Date(moved.start_date).toISOString()).toBe('2031-03-05T14:00:00.000Z');
    expect(new Date(moved.end_date).toISOString()).toBe('2031-03-05T15:30:00.000Z');
  });
});

describe('commerce patches', () => {
  it('updateProduct → get_product shows the new price', async () => {
    const products = items(await tool('list_products', { page_size: 5 }));
    const id = String((products[0] as Data).id);
    await write('updateProduct', { product_id: id, price: 4321, update_mask: ['price'] });
    const p = await tool('get_product', { product_id: id });
    const price = (p.product ?? p).price;
    expect(typeof price === 'object' ? price.amount : price).toBe(4321);
  });

  it('updateSubscription → get_subscription shows it (billing class, confirmed by the form)', async () => {
    const subs = items(await tool('list_subscriptions', { page_size: 5 }));
    const id = String((subs[0] as Data).id);
    await write('updateSubscription', { subscription_id: id, quantity: 7, update_mask: ['quantity'] });
    const s = await tool('get_subscription', { subscription_id: id });
    expect(s.quantity ?? s.subscription?.quantity).toBe(7);
  });

  it('updateOrder → get_order shows it', async () => {
    const orders = items(await tool('list_orders', { page_size: 5 }));
    const id = String((orders[0] as Data).id);
    await write('updateOrder', { order_id: id, order_title: 'Patched live', notes: 'via long tail' });
    const o = await tool('get_order', { order_id: id });
    const order = (o.order ?? o) as Data;
    expect(order.title ?? order.order_title).toBe('Patched live');
    expect(order.notes).toBe('via long tail');
  });
});

describe('emails', () => {
  it('templates list/get; a templated send is one ledger entry and one readable sent email', async () => {
    const templates = items(await read('listEmailTemplates'));
    expect(templates.length).toBeGreaterThan(0);
    const tplId = String((templates[0] as Data).id);
    const tpl = await read('getEmailTemplate', { email_template_id: tplId });
    expect(String(tpl.id)).toBe(tplId);
    const contact = await tool('create_contact', {
      given_name: 'Recipient',
      email_addresses: [{ email: 'recipient.live@example.com', field: 'EMAIL1' }],
    });
    const contactId = String(contact.id ?? contact.contact?.id);
    const users = items(await tool('list_users', {}));
    const before = await ledger('email_sent');
    await write('sendEmailTemplate', {
      template_id: tplId,
      contact_ids: [contactId],
      user_id: String((users[0] as Data).id),
    });
    const after = await ledger('email_sent');
    expect(after.length).toBe(before.length + 1);
    const entry = after.at(-1) as Data;
    expect(entry.data.template_id).toBe(tplId);
    const emailId = String(entry.data.email_ids[0]);
    const sent = await read('getEmail', { id: emailId });
    expect(String(sent.contact_id)).toBe(contactId);
    expect(sent.sent_to_address).toBe('recipient.live@example.com');
    const listed = items(await tool('list_emails', { filter: `contact_id==${contactId}` }));
    expect(listed).toHaveLength(1);
  });
});

describe('files', () => {
  it('listFiles / getFile metadata; getFileData_1 reports type and size, never the bytes', async () => {
    const files = items(await read('listFiles'));
    expect(files.length).toBeGreaterThan(0);
    const f = files[0] as Data;
    const id = String(f.id);
    const meta = await read('getFile', { file_id: id });
    expect(String(meta.id)).toBe(id);
    expect(meta.file_name).toBe(f.file_name);
    const r = await h.call('call_keap_read', { operationId: 'getFileData_1', arguments: { file_id: id } });
    expect(r.isError, text(r)).toBeFalsy();
    const d = data(r);
    expect(d.content_type).toEqual(expect.any(String));
    expect(d.size_bytes).toEqual(expect.any(Number));
    expect(d.size_bytes).toBeGreaterThan(0);
    expect(Object.keys(d).sort()).toEqual(['content_type', 'size_bytes']);
    expect(text(r).length).toBeLessThan(300);
  });
});

describe('an unsimulated documented operation', () => {
  it('answers a clean error naming "not simulated", not a crash', async () => {
    const r = await h.call('call_keap_read', { operationId: 'listShippingMethods', arguments: {} });
    expect(r.isError).toBe(true);
    const d = data(r);
    expect(d.error).toBeDefined();
    expect(text(r)).toMatch(/not simulated/);
    expect(text(r)).not.toMatch(/\bat \S+\.(js|ts):\d+/);
    // The server is still serving.
    const ok = await h.call('call_keap_read', { operationId: 'listLeadSources', arguments: {} });
    expect(ok.isError).toBeFalsy();
  });
});
