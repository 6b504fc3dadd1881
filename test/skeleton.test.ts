import { describe, expect, it } from 'vitest';
import { defineTool, RESOURCES } from '../src/registry/define.js';

describe('catalog contract', () => {
  it('freezes tool specs', () => {
    const spec = defineTool({
      name: 'x',
      title: 'X',
      description: 'x',
      resource: 'contacts',
      access: 'read',
      method: 'GET',
      path: '/v2/contacts',
      input: {},
    });
    expect(Object.isFrozen(spec)).toBe(true);
    expect(RESOURCES).toContain('payments');
  });
});
