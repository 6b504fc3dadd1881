/**
 * Operations added for "All of Keap behind the same gate" (reads): opportunity stage moves, lead sources,
 * affiliates, saved reports and report runs. Requests and responses are checked against Keap's documents; state
 * changes are checked through reads (a stage change appears as a move; a report run reflects a new contact).
 */
import { describe, expect, it } from 'vitest';
import { expectValid, type Res, call as rawCall, useSandbox } from './core-http.js';
import { validateRequest } from './openapi-helper.js';

let base: string;
useSandbox((s) => {
  base = s.baseUrl;
});

async function doc(
  method: string,
  template: string,
  path: string,
  opts: { body?: unknown; query?: Record<string, string> } = {},
): Promise<Res> {
  expect(validateRequest('v2', method, template, opts)).toEqual([]);
  const r = await rawCall(base, method, path, opts);
  expectValid('v2', method, template, r.status, r.body);
  return r;
}

function expect400(r: Res, field: string): void {
  expect(r.status, r.text).toBe(400);
  expect(r.body.message).toContain(field);
}

describe('opportunity stage moves', () => {
  const LIST = '/v2/opportunities/stageMoves';
  it('lists the seeded history, records a move on a stage change, gets one move', async () => {
    const seeded = await doc('GET', LIST, LIST, { query: { page_size: '1000' } });
    expect(seeded.body.stage_moves.length).toBeGreaterThan(0);
    const opp = (await rawCall(base, 'GET', '/v2/opportunities', { query: { page_size: '1' } })).body
      .opportunities[0];
    const stages = (await rawCall(base, 'GET', '/v2/opportunities/stages')).body.stages;
    const target = stages.find((s: any) => s.id !== opp.stage.id);
    const patched = await rawCall(base, 'PATCH', `/v2/opportunities/${opp.id}`, {
      body: { stage_id: target.id },
    });
    expect(patched.status, patched.text).toBe(200);
    const mine = await doc('GET', LIST, LIST, {
      query: { filter: `opportunity_id==${opp.id}`, order_by: 'move_date desc' },
    });
    const last = mine.body.stage_moves[0];
    expect(last).toMatchObject({
      opportunity_id: opp.id,
      move_from_stage_id: opp.stage.id,
      move_to_stage_id: target.id,
    });
    const one = await doc('GET', '/v2/opportunities/stageMoves/{stage_move_id}', `${LIST}/${last.id}`);
    expect(one.body).toEqual(last);
    expect((await rawCall(base, 'GET', `${LIST}/999999`)).status).toBe(404);
    const p1 = await doc('GET', LIST, LIST, { query: { page_size: '2' } });
    expect(p1.body.stage_moves).toHaveLength(2);
    expect(p1.body.next_page_token).not.toBe('');
    expect400(await rawCall(base, 'GET', LIST, { query: { filter: 'stage_id==1' } }), 'filter');
  });
});

describe('lead sources', () => {
  it('lists, filters and gets lead sources', async () => {
    const all = await doc('GET', '/v2/leadSources', '/v2/leadSources');
    expect(all.body.lead_sources.length).toBeGreaterThanOrEqual(5);
    const active = await doc('GET', '/v2/leadSources', '/v2/leadSources', {
      query: { filter: 'status==ACTIVE' },
    });
    expect(active.body.lead_sources.every((l: any) => l.status === 'ACTIVE')).toBe(true);
    expect(active.body.lead_sources.length).toBeLessThan(all.body.lead_sources.length);
    const byName = await doc('GET', '/v2/leadSources', '/v2/leadSources', {
      query: { filter: 'name==Goo*' },
    });
    expect(byName.body.lead_sources.map((l: any) => l.name)).toEqual(['Google Ads']);
    const one = await doc(
      'GET',
      '/v2/leadSources/{lead_source_id}',
      `/v2/leadSources/${byName.body.lead_sources[0].id}`,
    );
    expect(one.body.name).toBe('Google Ads');
    expect((await rawCall(base, 'GET', '/v2/leadSources/999')).status).toBe(404);
    expect400(
      await rawCall(base, 'GET', '/v2/leadSources', { query: { order_by: 'colour asc' } }),
      'order_by',
    );
  });
});

describe('affiliates', () => {
  it('lists, filters and gets affiliates', async () => {
    const all = await doc('GET', '/v2/affiliates', '/v2/affiliates');
    expect(all.body.affiliates.length).toBe(3);
    const active = await doc('GET', '/v2/affiliates', '/v2/affiliates', {
      query: { filter: 'status==ACTIVE' },
    });
    expect(active.body.affiliates).toHaveLength(2);
    const a = all.body.affiliates[0];
    expect((await doc('GET', '/v2/affiliates/{id}', `/v2/affiliates/${a.id}`)).body).toEqual(a);
    expect((await rawCall(base, 'GET', '/v2/affiliates/999')).status).toBe(404);
  });
});

describe('reports', () => {
  const RUN = '/v2/reporting/reports/{report_id}:run';
  it('lists and gets saved reports', async () => {
    const all = await doc('GET', '/v2/reporting/reports', '/v2/reporting/reports');
    expect(all.body.reports.map((r: any) => r.name)).toContain('Contacts by lead source');
    const f = await doc('GET', '/v2/reporting/reports', '/v2/reporting/reports', {
      query: { filter: 'name==Tag usage' },
    });
    expect(f.body.reports).toHaveLength(1);
    const one = await doc(
      'GET',
      '/v2/reporting/reports/{report_id}',
      `/v2/reporting/reports/${f.body.reports[0].id}`,
    );
    expect(one.body.name).toBe('Tag usage');
  });

  it('runs a report from live data, with paging, order and fields', async () => {
    const list = (await rawCall(base, 'GET', '/v2/reporting/reports')).body.reports;
    const id = list.find((r: any) => r.name === 'Contacts by lead source').id;
    const path = `/v2/reporting/reports/${id}:run`;
    // runReportRequest is a query object: its properties are the query parameters
    const runQuery = (q: Record<string, string>) => ({ query: q });
    const count = (r: Res, source: string): number =>
      Number(
        r.body.results
          .find((x: any) => x.columns.some((c: any) => c.value === source))
          ?.columns.find((c: any) => c.field_name === 'contact_count')?.value ?? 0,
      );
    const before = await rawCall(base, 'POST', path, runQuery({ page_size: '100' }));
    expect(before.status, before.text).toBe(200);
    expectValid('v2', 'POST', RUN, 200, before.body);
    await rawCall(base, 'POST', '/v2/contacts', {
      body: {
        given_name: 'Rep',
        email_addresses: [{ email: 'rep@report.example', field: 'EMAIL1' }],
        leadsource_id: '2',
      },
    });
    const after = await rawCall(base, 'POST', path, runQuery({ page_size: '100' }));
    expect(count(after, 'Facebook')).toBe(count(before, 'Facebook') + 1);
    const p1 = await rawCall(
      base,
      'POST',
      path,
      runQuery({ page_size: '2', order_by: 'contact_count desc' }),
    );
    expect(p1.body.results).toHaveLength(2);
    expect(p1.body.page_token).not.toBe('');
    const p2 = await rawCall(
      base,
      'POST',
      path,
      runQuery({ page_size: '2', order_by: 'contact_count desc', page_token: p1.body.page_token }),
    );
    expectValid('v2', 'POST', RUN, 200, p2.body);
    const counts = [...p1.body.results, ...p2.body.results].map((r: any) => Number(r.columns[1].value));
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    const only = await rawCall(base, 'POST', path, runQuery({ fields: 'lead_source' }));
    expect(only.body.results[0].columns.map((c: any) => c.field_name)).toEqual(['lead_source']);
    expect400(await rawCall(base, 'POST', path, runQuery({ fields: 'shoe' })), 'fields');
    expect400(await rawCall(base, 'POST', path, runQuery({ colour: 'red' })), 'colour');
    expect((await rawCall(base, 'POST', '/v2/reporting/reports/99:run')).status).toBe(404);
  });
});
