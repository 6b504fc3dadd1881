import { describe, expect, it } from 'vitest';
import { loadSpec, specsAvailable, validateRequest, validateResponse } from './openapi-helper.js';

describe.skipIf(!specsAvailable())('openapi-helper (the judge)', () => {
  it('loads both documents', () => {
    expect(loadSpec('v2')?.openapi).toMatch(/^3\.1/);
    expect(loadSpec('v1')?.openapi).toMatch(/^3\.0/);
  });

  it('validates v1 responses (draft-07) and can fail', () => {
    expect(validateResponse('v1', 'GET', '/v1/hooks/event_keys', 200, ['contact.add'])).toEqual([]);
    expect(validateResponse('v1', 'GET', '/v1/hooks/event_keys', 200, { x: 1 }).length).toBeGreaterThan(0);
    expect(
      validateResponse('v1', 'GET', '/v1/hooks', 200, [
        { eventKey: 'contact.add', hookUrl: 'x', key: '1', status: 'Sleepy' },
      ]).length,
    ).toBeGreaterThan(0);
    expect(validateResponse('v1', 'GET', '/v1/contacts', 200, { contacts: [], count: 0 })).toEqual([]);
  });

  it('validates v2 responses (2020-12), statuses and empty bodies', () => {
    expect(
      validateResponse('v2', 'GET', '/v2/tags', 200, { tags: [{ id: '1', name: 'x' }], next_page_token: '' }),
    ).toEqual([]);
    expect(validateResponse('v2', 'GET', '/v2/tags', 200, { tags: [{ id: 1 }] }).length).toBeGreaterThan(0);
    expect(validateResponse('v2', 'GET', '/v2/tags', 418, {})[0]).toContain('418');
    expect(validateResponse('v2', 'DELETE', '/v2/contacts/{contact_id}', 204, undefined)).toEqual([]);
    expect(validateResponse('v2', 'DELETE', '/v2/contacts/{contact_id}', 204, { a: 1 }).length).toBe(1);
    expect(validateResponse('v2', 'GET', '/v2/nowhere', 200, {})[0]).toContain('/rest/v2/nowhere');
  });

  it('validates requests: query names/types/enums, bodies, required', () => {
    expect(
      validateRequest('v2', 'GET', '/v2/contacts', {
        query: { page_size: '5', filter: 'a==b', fields: 'id,given_name' },
      }),
    ).toEqual([]);
    expect(validateRequest('v2', 'GET', '/v2/contacts', { query: { pagesize: '5' } })[0]).toContain(
      'pagesize',
    );
    expect(validateRequest('v2', 'GET', '/v2/users', { query: { page_size: '500' } })[0]).toContain(
      'maximum',
    );
    expect(
      validateRequest('v2', 'POST', '/v2/contacts', { query: { duplicate_option: 'Phone' }, body: {} })[0],
    ).toContain('duplicate_option');
    expect(
      validateRequest('v2', 'PATCH', '/v2/contacts/{contact_id}', {
        query: { update_mask: 'given_name,shoe' },
        body: {},
      })[0],
    ).toContain('update_mask');
    expect(validateRequest('v2', 'POST', '/v2/tags/{tag_id}/contacts:applyTags', { body: {} })[0]).toContain(
      'contact_ids',
    );
    expect(validateRequest('v2', 'POST', '/v2/tags/{tag_id}/contacts:applyTags', {})).toEqual([
      'body: required',
    ]);
    expect(validateRequest('v2', 'GET', '/v2/contacts', { body: { a: 1 } })[0]).toContain('no body');
  });
});
