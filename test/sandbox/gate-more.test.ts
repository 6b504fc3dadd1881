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
