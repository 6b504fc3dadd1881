import { it } from 'vitest';
import { ALL_TOOLS } from '../../tools/index.js';
import { measure } from './measure.js';
it('prints', () => {
  const b = measure(ALL_TOOLS);
  for (const t of b.perTool) console.log(String(t.size).padStart(5), t.access, t.name);
  console.log('TOTAL', b.total, 'READ', b.read, 'N', ALL_TOOLS.length);
});
