import { describe, expect, it } from 'vitest';
import { call, control, expectDoc, useSandbox } from './core-http.js';
import { validateRequest } from './openapi-helper.js';

let base: string;
useSandbox((sb) => {
  base = sb.baseUrl;
});

describe('tags', () => {
  it('lists ≥ 20 seeded tags in categories, with filters and order_by', async () => {
    const r = await call(base, 'GET', '/v2/tags', { query: { page_size: 1000 } });
    expect(r.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/tags', r);
    expect(r.body.tags.length).toBeGreaterThanOrEqual(20);
    expect(r.body.tags.filter((t: any) => t.category).length).toBeGreaterThanOrEqual(15);

    const none = await call(base, 'GET', '/v2/tags', { query: { filter: 'category_id==NONE' } });
    expectDoc('v2', 'GET', '/v2/tags', none);
    expect(none.body.tags.length).toBeGreaterThan(0);
    for (const t of none.body.tags) expect(t.category).toBeUndefined();

    const cat = r.body.tags.find((t: any) => t.category).category.id;
    const inCat = await call(base, 'GET', '/v2/tags', { query: { filter: `category_id==${cat}` } });
    for (const t of inCat.body.tags) expect(t.category.id).toBe(cat);

    const named = await call(base, 'GET', '/v2/tags', { query: { filter: 'name==VIP Customer' } });
    expect(named.body.tags.map((t: any) => t.name)).toEqual(['VIP Customer']);

    const listed = await call(base, 'GET', '/v2/tags', { query: { filter: 'tag_ids==1,2,3' } });
    expect(listed.body.tags.map((t: any) => t.id)).toEqual(['1', '2', '3']);

    const ordered = await call(base, 'GET', '/v2/tags', {
      query: { order_by: 'name desc', page_size: 1000 },
    });
    const names = ordered.body.tags.map((t: any) => t.name.toLowerCase());
    expect(names).toEqual([...names].sort().reverse());

    const paged = await call(base, 'GET', '/v2/tags', { query: { page_size: 5 } });
    expect(paged.body.tags).toHaveLength(5);
    expect(paged.body.next_page_token).not.toBe('');

    const bad = await call(base, 'GET', '/v2/tags', { query: { filter: 'colour==red' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('colour');
    expectDoc('v2', 'GET', '/v2/tags', bad);
  });

  it('creates a tag (201) and rejects bad bodies naming the field', async () => {
    const body = { name: 'Sandbox Test Tag', description: 'made by a test', category: { id: '1' } };
    expect(validateRequest('v2', 'POST', '/v2/tags', { body })).toEqual([]);
    const r = await call(base, 'POST', '/v2/tags', { body });
    expect(r.status, r.text).toBe(201);
    expectDoc('v2', 'POST', '/v2/tags', r);
    expect(r.body).toMatchObject({ name: 'Sandbox Test Tag', category: { id: '1' } });
    const got = await call(base, 'GET', `/v2/tags/${r.body.id}`);
    expect(got.body.name).toBe('Sandbox Test Tag');

    for (const [b, field] of [
      [{ description: 'no name' }, 'name'],
      [{ name: 5 }, 'name'],
      [{ name: 'x', category: {} }, 'category.id'],
      [{ name: 'x', category: { id: '9999' } }, 'category.id'],
    ] as const) {
      const e = await call(base, 'POST', '/v2/tags', { body: b });
      expect(e.status, JSON.stringify(b)).toBe(400);
      expect(e.body.message).toContain(field);
      expectDoc('v2', 'POST', '/v2/tags', e);
    }
  });

  it('applyTags / removeTags, tagged contacts and a contact’s tags', async () => {
    const tag = (await call(base, 'POST', '/v2/tags', { body: { name: 'Apply Me' } })).body;
    const body = { contact_ids: ['10', '11', '99999'] };
    expect(validateRequest('v2', 'POST', '/v2/tags/{tag_id}/contacts:applyTags', { body })).toEqual([]);
    const ap = await call(base, 'POST', `/v2/tags/${tag.id}/contacts:applyTags`, { body });
    expect(ap.status, ap.text).toBe(200);
    expectDoc('v2', 'POST', '/v2/tags/{tag_id}/contacts:applyTags', ap);
    expect(ap.body.results).toEqual({ '10': 'SUCCESS', '11': 'SUCCESS', '99999': 'NOT_FOUND' });
    const again = await call(base, 'POST', `/v2/tags/${tag.id}/contacts:applyTags`, {
      body: { contact_ids: ['10'] },
    });
    expect(again.body.results).toEqual({ '10': 'DUPLICATE' });

    const tagged = await call(base, 'GET', `/v2/tags/${tag.id}/contacts`);
    expect(tagged.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/tags/{tag_id}/contacts', tagged);
    expect(tagged.body.contacts.map((c: any) => c.id)).toEqual(['10', '11']);
    expect(tagged.body.contacts[0].applied_time).toMatch(/^\d{4}-/);

    const ct = await call(base, 'GET', '/v2/contacts/10/tags');
    expect(ct.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/contacts/{contact_id}/tags', ct);
    expect(ct.body.tags.map((a: any) => a.tag.id)).toContain(tag.id);
    const contact = await call(base, 'GET', '/v2/contacts/10');
    expect(contact.body.tag_ids).toContain(tag.id);
    const byApplied = await call(base, 'GET', '/v2/contacts/10/tags', {
      query: { order_by: 'applied_time desc' },
    });
    expect(byApplied.body.tags[0].tag.id).toBe(tag.id);

    const rm = await call(base, 'POST', `/v2/tags/${tag.id}/contacts:removeTags`, {
      body: { contact_ids: ['10'] },
    });
    expect(rm.status).toBe(204);
    expectDoc('v2', 'POST', '/v2/tags/{tag_id}/contacts:removeTags', rm);
    const after = await call(base, 'GET', `/v2/tags/${tag.id}/contacts`);
    expect(after.body.contacts.map((c: any) => c.id)).toEqual(['11']);

    const ev = (await control(base, 'GET', '/events')).body.events.map((e: any) => `${e.eventKey}:${e.id}`);
    expect(ev).toContain('contactGroup.applied:10');
    expect(ev).toContain('contactGroup.applied:11');
    expect(ev).toContain('contactGroup.removed:10');

    for (const [b, field] of [
      [{}, 'contact_ids'],
      [{ contact_ids: 'x' }, 'contact_ids'],
      [{ contact_ids: ['abc'] }, 'contact_ids[0]'],
    ] as const) {
      const e = await call(base, 'POST', `/v2/tags/${tag.id}/contacts:applyTags`, { body: b });
      expect(e.status, JSON.stringify(b)).toBe(400);
      expect(e.body.message).toContain(field);
    }
    const missing = await call(base, 'POST', '/v2/tags/99999/contacts:applyTags', { body });
    expect(missing.status).toBe(404);
    expectDoc('v2', 'POST', '/v2/tags/{tag_id}/contacts:applyTags', missing);
    const badId = await call(base, 'GET', '/v2/tags/x1/contacts');
    expect(badId.status).toBe(400);
    expect(badId.body.message).toContain('tag_id');
    const noContact = await call(base, 'GET', '/v2/contacts/99999/tags');
    expect(noContact.status).toBe(404);
  });

  it('lists tag categories', async () => {
    const r = await call(base, 'GET', '/v2/tags/categories', { query: { order_by: 'name asc' } });
    expect(r.status).toBe(200);
    expectDoc('v2', 'GET', '/v2/tags/categories', r);
    expect(r.body.tag_categories.length).toBeGreaterThanOrEqual(4);
    const names = r.body.tag_categories.map((c: any) => c.name.toLowerCase());
    expect(names).toEqual([...names].sort());
    const one = await call(base, 'GET', '/v2/tags/categories', { query: { filter: 'name==Interests' } });
    expect(one.body.tag_categories.map((c: any) => c.name)).toEqual(['Interests']);
  });

  it('lists companies by tag', async () => {
    const tags = (await call(base, 'GET', '/v2/tags', { query: { page_size: 1000 } })).body.tags;
    let found = false;
    for (const t of tags) {
      const r = await call(base, 'GET', `/v2/tags/${t.id}/companies`);
      expect(r.status).toBe(200);
      expectDoc('v2', 'GET', '/v2/tags/{tag_id}/companies', r);
      if (r.body.tagged_companies.length > 0) {
        found = true;
        const co = r.body.tagged_companies[0];
        expect(co.company.id).toMatch(/^\d+$/);
        expect(co.company.groups.split(',')).toContain(t.id);
      }
    }
    expect(found).toBe(true);
  });
});
