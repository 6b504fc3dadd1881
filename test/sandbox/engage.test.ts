/**
 * Campaigns, goals, emails, notes and tasks of the sandbox over real HTTP; responses are checked against
 * Keap's official OpenAPI documents.
 */
import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/core/types.js';
import { caller, type Res, useSandbox, expectValid as validateResponse } from './core-http.js';

let sb: RunningSandbox;

const call = caller(() => sb.baseUrl, 'engage-test-key');

/** Call and check the response against the official document (path template in Keap's form). */
async function checked(
  version: 'v1' | 'v2',
  method: string,
  template: string,
  path: string,
  body?: unknown,
): Promise<Res> {
  const r = await call(method, path, body);
  validateResponse(version, method, template, r.status, r.body);
  return r;
}

function expect400(r: Res, field: string): void {
  expect(r.status, r.text).toBe(400);
  expect(r.body.message).toContain(field);
  validateResponse('v2', 'GET', '/v2/contacts', 400, r.body);
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

async function someContactIds(n: number): Promise<string[]> {
  const r = await call('GET', `/v2/contacts?page_size=${n}`);
  expect(r.status).toBe(200);
  return r.body.contacts.map((c: { id: string }) => c.id);
}

useSandbox(
  (s) => {
    sb = s;
  },
  { hookDelayMs: 50 },
);

describe('campaigns', () => {
  it('lists at least 4 campaigns, filters by name substring and orders', async () => {
    const all = await checked('v2', 'GET', '/v2/campaigns', '/v2/campaigns');
    expect(all.status).toBe(200);
    expect(all.body.campaigns.length).toBeGreaterThanOrEqual(4);
    const f = await checked(
      'v2',
      'GET',
      '/v2/campaigns',
      `/v2/campaigns?filter=${encodeURIComponent('name==Cart')}`,
    );
    expect(f.body.campaigns.map((c: { name: string }) => c.name)).toEqual(['Abandoned Cart Recovery']);
    const desc = await checked('v2', 'GET', '/v2/campaigns', '/v2/campaigns?order_by=name%20desc');
    const names = desc.body.campaigns.map((c: { name: string }) => c.name);
    expect(names).toEqual([...names].sort().reverse());
    const paged = await checked('v2', 'GET', '/v2/campaigns', '/v2/campaigns?page_size=2');
    expect(paged.body.campaigns).toHaveLength(2);
    expect(paged.body.next_page_token).not.toBe('');
    expect400(await call('GET', '/v2/campaigns?order_by=bogus'), 'order_by');
    expect400(await call('GET', `/v2/campaigns?filter=${encodeURIComponent('status==x')}`), 'filter');
  });

  it('gets one campaign, its sequences and goals; 404 and 400 on bad ids', async () => {
    const c = await checked('v2', 'GET', '/v2/campaigns/{campaign_id}', '/v2/campaigns/1');
    expect(c.status).toBe(200);
    expect(c.body.id).toBe('1');
    const seqs = await checked(
      'v2',
      'GET',
      '/v2/campaigns/{campaign_id}/sequences',
      '/v2/campaigns/1/sequences',
    );
    expect(seqs.status).toBe(200);
    expect(seqs.body.sequences.length).toBeGreaterThanOrEqual(1);
    expect(seqs.body.sequences[0].paths[0].items.length).toBeGreaterThan(0);
    const goals = await checked('v2', 'GET', '/v2/campaigns/{campaign_id}/goals', '/v2/campaigns/1/goals');
    expect(goals.status).toBe(200);
    expect(goals.body.goals.some((g: { type: string }) => g.type === 'API')).toBe(true);
    const nf = await call('GET', '/v2/campaigns/9999');
    expect(nf.status).toBe(404);
    validateResponse('v2', 'GET', '/v2/campaigns/{campaign_id}', 404, nf.body);
    expect400(await call('GET', '/v2/campaigns/abc'), 'campaign_id');
  });

  it('adds contacts to a sequence and removes them, with per-contact results', async () => {
    const seqs = await call('GET', '/v2/campaigns/2/sequences');
    const seq = seqs.body.sequences[0];
    const before: number = seq.active_contact_count;
    const ids = await someContactIds(50);
    // pick a contact not in the sequence yet: add, then add again
    const path = `/v2/campaigns/2/sequences/${seq.id}:addContacts`;
    const template = '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:addContacts';
    const first = await checked('v2', 'POST', template, path, { contact_ids: ids.slice(0, 20) });
    expect(first.status).toBe(200);
    const results = first.body.add_to_sequence_results as Record<string, string>;
    const added = Object.entries(results)
      .filter(([, v]) => v === 'SUCCESS')
      .map(([k]) => k);
    expect(added.length).toBeGreaterThan(0);
    const again = await checked('v2', 'POST', template, path, { contact_ids: [added[0], '99999999'] });
    expect(again.body.add_to_sequence_results).toEqual({
      [added[0] as string]: 'ALREADY_IN_SEQUENCE',
      '99999999': 'CONTACT_DOES_NOT_EXIST',
    });
    const after = await call('GET', '/v2/campaigns/2/sequences');
    expect(after.body.sequences[0].active_contact_count).toBe(before + added.length);

    const rmTemplate = '/v2/campaigns/{campaign_id}/sequences/{sequence_id}:removeContacts';
    const rm = await checked('v2', 'POST', rmTemplate, `/v2/campaigns/2/sequences/${seq.id}:removeContacts`, {
      contact_ids: added,
    });
    expect(rm.status).toBe(200);
    expect(Object.values(rm.body.remove_from_sequence_results).every((v) => v === 'SUCCESS')).toBe(true);
    const final = await call('GET', '/v2/campaigns/2/sequences');
    expect(final.body.sequences[0].active_contact_count).toBe(before);

    expect400(await call('POST', path, {}), 'contact_ids');
    expect400(await call('POST', path, { contact_ids: 'x' }), 'contact_ids');
    // a sequence of another campaign is not found under this one
    const other = await call('POST', `/v2/campaigns/1/sequences/${seq.id}:addContacts`, {
      contact_ids: [added[0]],
    });
    expect(other.status).toBe(404);
  });

  it('achieves an API goal by integration + call_name and by automation_id + goal_id', async () => {
    const [contact] = await someContactIds(1);
    const goals = await call('GET', '/v2/campaigns/1/goals');
    const apiGoal = goals.body.goals.find((g: { type: string }) => g.type === 'API');
    const nextSeq: string = apiGoal.next_sequence_ids[0];
    // make sure the contact is not yet in the goal's next sequence
    await call('POST', `/v2/campaigns/1/sequences/${nextSeq}:removeContacts`, { contact_ids: [contact] });
    const r = await checked('v2', 'POST', '/v2/automations/goals/achieve', '/v2/automations/goals/achieve', {
      contact_id: Number(contact),
      integration: 'sandbox',
      call_name: 'lead_signup',
    });
    expect(r.status).toBe(200);
    expect(r.body.results).toHaveLength(1);
    expect(r.body.results[0]).toMatchObject({ success: true, automation_id: 1, goal_id: Number(apiGoal.id) });
    expect(r.body.results[0].flow_start_results[0]).toMatchObject({
      success: true,
      flow_id: Number(nextSeq),
    });
    const again = await call('POST', `/v2/campaigns/1/sequences/${nextSeq}:addContacts`, {
      contact_ids: [contact],
    });
    expect(again.body.add_to_sequence_results[contact as string]).toBe('ALREADY_IN_SEQUENCE');

    const byId = await checked(
      'v2',
      'POST',
      '/v2/automations/goals/achieve',
      '/v2/automations/goals/achieve',
      {
        contact_id: Number(contact),
        automation_id: 1,
        goal_id: Number(apiGoal.id),
      },
    );
    expect(byId.body.results[0].success).toBe(true);

    const none = await call('POST', '/v2/automations/goals/achieve', {
      contact_id: Number(contact),
      integration: 'nope',
      call_name: 'nothing',
    });
    expect(none.status).toBe(200);
    expect(none.body.results).toEqual([]);

    expect400(
      await call('POST', '/v2/automations/goals/achieve', { integration: 'sandbox', call_name: 'x' }),
      'contact_id',
    );
    expect400(await call('POST', '/v2/automations/goals/achieve', { contact_id: 1 }), 'integration');
    expect400(
      await call('POST', '/v2/automations/goals/achieve', { contact_id: 1, integration: 'sandbox' }),
      'call_name',
    );
    expect400(
      await call('POST', '/v2/automations/goals/achieve', { contact_id: 'x', goal_id: 1 }),
      'contact_id',
    );
    const missing = await call('POST', '/v2/automations/goals/achieve', {
      contact_id: 1,
      automation_id: 1,
      goal_id: 9999,
    });
    expect(missing.status).toBe(404);
  });
});

describe('emails', () => {
  it('emails:send answers 202 with no body, logs each recipient and records the ledger', async () => {
    const [a, b] = await someContactIds(2);
    const subject = `Sandbox hello ${Date.now()}`;
    const r = await call('POST', '/v2/emails:send', {
      contacts: [a, b],
      subject,
      user_id: '1',
      plain_content: b64('Hello there'),
      html_content: b64('<p>Hello there</p>'),
    });
    expect(r.status, r.text).toBe(202);
    expect(r.text).toBe('');

    const log = await checked(
      'v2',
      'GET',
      '/v2/emails',
      `/v2/emails?filter=${encodeURIComponent(`contact_id==${a}`)}`,
    );
    expect(log.status).toBe(200);
    const mine = log.body.emails.filter((e: { subject: string }) => e.subject === subject);
    expect(mine).toHaveLength(1);
    expect(mine[0].contact_id).toBe(a);
    expect(mine[0].sent_to_address).toContain('@');

    const byEmail = await call(
      'GET',
      `/v2/emails?filter=${encodeURIComponent(`email==${mine[0].sent_to_address}`)}&order_by=created_time%20desc`,
    );
    expect(byEmail.body.emails[0].subject).toBe(subject);
    const since = new Date(Date.now() - 60_000).toISOString();
    const recent = await call(
      'GET',
      `/v2/emails?filter=${encodeURIComponent(`start_created_time==${since}`)}`,
    );
    expect(recent.body.emails.filter((e: { subject: string }) => e.subject === subject)).toHaveLength(2);
    const old = await call('GET', `/v2/emails?filter=${encodeURIComponent(`end_created_time==${since}`)}`);
    expect(old.body.emails.length).toBeGreaterThan(0);
    expect(old.body.emails.some((e: { subject: string }) => e.subject === subject)).toBe(false);

    const ledger = await call('GET', '/__sandbox/ledger?kind=email_sent');
    const entry = ledger.body.entries.find((e: { data: { subject: string } }) => e.data.subject === subject);
    expect(entry).toBeDefined();
    expect(entry.data.contact_ids).toEqual([Number(a), Number(b)]);
    expect(entry.data.recipients).toHaveLength(2);

    const fromAddr = await call('POST', '/v2/emails:send', {
      contacts: [a],
      subject: 'from address',
      from_address: 'owner@sandbox.example',
      plain_content: b64('x'),
    });
    expect(fromAddr.status).toBe(202);
  });

  it('rejects bad sends with 400 naming the field and records nothing', async () => {
    const [a] = await someContactIds(1);
    const before = (await call('GET', '/__sandbox/ledger?kind=email_sent')).body.entries.length;
    const base = { contacts: [a], subject: 'x', user_id: '1' };
    expect400(
      await call('POST', '/v2/emails:send', { ...base, plain_content: 'not base64!' }),
      'plain_content',
    );
    expect400(
      await call('POST', '/v2/emails:send', { ...base, html_content: '<p>raw html</p>' }),
      'html_content',
    );
    expect400(await call('POST', '/v2/emails:send', { ...base, from_address: 'a@b.co' }), 'from_address');
    expect400(await call('POST', '/v2/emails:send', { contacts: [a], subject: 'x' }), 'user_id');
    expect400(await call('POST', '/v2/emails:send', { contacts: [a], user_id: '1' }), 'subject');
    expect400(await call('POST', '/v2/emails:send', { subject: 'x', user_id: '1' }), 'contacts');
    expect400(await call('POST', '/v2/emails:send', { ...base, contacts: ['99999999'] }), 'contacts');
    expect400(await call('POST', '/v2/emails:send', { ...base, address_field: 'EMAIL9' }), 'address_field');
    expect400(
      await call('POST', '/v2/emails:send', { contacts: [a], subject: 'x', from_address: 'nope' }),
      'from_address',
    );
    expect400(
      await call('POST', '/v2/emails:send', {
        ...base,
        attachments: [{ file_name: 'a.txt', file_data: '***' }],
      }),
      'attachments[0].file_data',
    );
    expect400(await call('GET', `/v2/emails?filter=${encodeURIComponent('subject==x')}`), 'filter');
    expect400(await call('GET', '/v2/emails?order_by=subject'), 'order_by');
    const after = (await call('GET', '/__sandbox/ledger?kind=email_sent')).body.entries.length;
    expect(after).toBe(before);
  });
});

describe('notes', () => {
  it('creates a note on a contact and lists it (note.add emitted)', async () => {
    const [contact] = await someContactIds(1);
    const path = `/v2/contacts/${contact}/notes`;
    const template = '/v2/contacts/{contact_id}/notes';
    const created = await checked('v2', 'POST', template, path, {
      user_id: '1',
      title: 'Sandbox call',
      text: 'Talked about the sandbox.',
      type: 'Call',
      is_pinned: true,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ contact_id: contact, title: 'Sandbox call', type: 'Call' });
    expect(created.body.assigned_to_user.id).toBe('1');
    expect(created.body.pinned_at).toBeDefined();

    const list = await checked('v2', 'GET', template, path);
    expect(list.body.notes.some((n: { id: string }) => n.id === created.body.id)).toBe(true);
    const byTitle = await checked(
      'v2',
      'GET',
      template,
      `${path}?filter=${encodeURIComponent('title==Sandbox*')}`,
    );
    expect(byTitle.body.notes.map((n: { id: string }) => n.id)).toContain(created.body.id);
    const byId = await call(
      'GET',
      `${path}?filter=${encodeURIComponent(`id>=${created.body.id}`)}&order_by=id%20desc`,
    );
    expect(byId.body.notes[0].id).toBe(created.body.id);

    const events = await call('GET', '/__sandbox/events');
    expect(
      events.body.events.some(
        (e: { eventKey: string; id: number }) =>
          e.eventKey === 'note.add' && String(e.id) === created.body.id,
      ),
    ).toBe(true);
  });

  it('rejects bad notes', async () => {
    const [contact] = await someContactIds(1);
    const path = `/v2/contacts/${contact}/notes`;
    expect400(await call('POST', path, { title: 'x' }), 'user_id');
    expect400(await call('POST', path, { user_id: '1' }), 'title');
    expect400(await call('POST', path, { user_id: '1', title: 'x', type: 'Telepathy' }), 'type');
    expect400(await call('POST', path, { user_id: '1', title: 'x', is_pinned: 'yes' }), 'is_pinned');
    expect400(await call('POST', path, { user_id: '424242', title: 'x' }), 'user_id');
    expect400(await call('GET', `${path}?filter=${encodeURIComponent('color==red')}`), 'filter');
    expect400(await call('GET', `${path}?filter=${encodeURIComponent('id>1;ids==1,2')}`), 'filter');
    expect400(await call('GET', '/v2/contacts/abc/notes'), 'contact_id');
    const nf = await call('POST', '/v2/contacts/99999999/notes', { user_id: '1', title: 'x' });
    expect(nf.status).toBe(404);
  });
});

describe('tasks', () => {
  it('creates, lists, filters and patches tasks', async () => {
    const [contact] = await someContactIds(1);
    const due = new Date(Date.now() + 86_400_000).toISOString();
    const created = await checked('v2', 'POST', '/v2/tasks', '/v2/tasks', {
      assigned_to_user_id: '1',
      title: 'Call the sandbox',
      priority: 'CRITICAL',
      contact_id: contact,
      due_time: due,
      remind_time_mins: 15,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      title: 'Call the sandbox',
      priority: 'CRITICAL',
      completed: false,
      contact_id: contact,
    });
    const id: string = created.body.id;

    const mine = await checked(
      'v2',
      'GET',
      '/v2/tasks',
      `/v2/tasks?filter=${encodeURIComponent(`contact_id==${contact}`)}`,
    );
    expect(mine.body.tasks.map((t: { id: string }) => t.id)).toContain(id);
    const crit = await call(
      'GET',
      `/v2/tasks?filter=${encodeURIComponent('priority==CRITICAL;title==Call the s*')}`,
    );
    expect(crit.body.tasks.map((t: { id: string }) => t.id)).toContain(id);
    const done = await call('GET', `/v2/tasks?filter=${encodeURIComponent('is_completed==true')}`);
    expect(done.body.tasks.length).toBeGreaterThan(0);
    expect(done.body.tasks.every((t: { completed: boolean }) => t.completed)).toBe(true);

    const patched = await checked('v2', 'PATCH', '/v2/tasks/{task_id}', `/v2/tasks/${id}`, {
      completed: true,
      title: 'Called',
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ id, completed: true, title: 'Called' });
    expect(patched.body.completion_time).toBeDefined();

    const masked = await call('PATCH', `/v2/tasks/${id}?update_mask=priority`, {
      priority: 'NONESSENTIAL',
      title: 'ignored',
    });
    expect(masked.status).toBe(200);
    expect(masked.body).toMatchObject({ priority: 'NONESSENTIAL', title: 'Called' });

    const events = (await call('GET', '/__sandbox/events')).body.events as { eventKey: string; id: number }[];
    const keys = events.filter((e) => String(e.id) === id).map((e) => e.eventKey);
    expect(keys).toEqual(expect.arrayContaining(['task.add', 'task.edit', 'task.complete']));
  });

  it('walks all tasks with page_size 7 exactly once', async () => {
    const total = (await call('GET', '/v2/tasks')).body.tasks.length;
    const seen: string[] = [];
    let token = '';
    for (let i = 0; i < 100; i++) {
      const r = await checked(
        'v2',
        'GET',
        '/v2/tasks',
        `/v2/tasks?page_size=7&order_by=due_time%20desc${token ? `&page_token=${token}` : ''}`,
      );
      seen.push(...r.body.tasks.map((t: { id: string }) => t.id));
      token = r.body.next_page_token;
      if (!token) break;
    }
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
  });

  it('rejects bad tasks with 400 naming the field', async () => {
    expect400(await call('POST', '/v2/tasks', { title: 'x' }), 'assigned_to_user_id');
    expect400(await call('POST', '/v2/tasks', { assigned_to_user_id: '1', priority: 'HIGH' }), 'priority');
    expect400(
      await call('POST', '/v2/tasks', { assigned_to_user_id: '1', due_time: 'tomorrow' }),
      'due_time',
    );
    expect400(
      await call('POST', '/v2/tasks', { assigned_to_user_id: '1', remind_time_mins: 7 }),
      'remind_time_mins',
    );
    expect400(
      await call('POST', '/v2/tasks', { assigned_to_user_id: '1', contact_id: '99999999' }),
      'contact_id',
    );
    expect400(await call('PATCH', '/v2/tasks/1?update_mask=colour', { title: 'x' }), 'update_mask');
    expect400(await call('PATCH', '/v2/tasks/abc', { title: 'x' }), 'task_id');
    expect400(await call('GET', `/v2/tasks?filter=${encodeURIComponent('is_completed==maybe')}`), 'filter');
    expect400(await call('GET', '/v2/tasks?order_by=title'), 'order_by');
    const nf = await call('PATCH', '/v2/tasks/99999999', { title: 'x' });
    expect(nf.status).toBe(404);
  });
});
