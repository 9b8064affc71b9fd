import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../lib/errors';

describe('error codes', () => {
  it('are each documented in docs/errors.md, and docs/errors.md lists no others', () => {
    const doc = readFileSync(join(__dirname, '..', 'docs', 'errors.md'), 'utf8');
    const section = doc.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
