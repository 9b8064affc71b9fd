import { MAX_PAGE_SIZE, decodeCursor, encodeCursor, pageRequest, toConnection } from '../lib/pagination';

describe('pagination', () => {
  it('defaults the page size and decodes a cursor of the same list', () => {
    expect(pageRequest({}, 'accounts')).toEqual({ first: 50, afterKey: null });
    expect(pageRequest({ first: 0, after: encodeCursor('ACC-000003', 'accounts') }, 'accounts')).toEqual({
      first: 0,
      afterKey: 'ACC-000003',
    });
  });

  it('refuses negative, fractional and over-limit page sizes with BAD_USER_INPUT', () => {
    for (const first of [-1, 1.5, MAX_PAGE_SIZE + 1]) {
      expect(() => pageRequest({ first }, 'accounts')).toThrow(
        expect.objectContaining({ code: 'BAD_USER_INPUT', details: { field: 'first', value: String(first) } }),
      );
    }
    expect(pageRequest({ first: MAX_PAGE_SIZE }, 'accounts').first).toBe(MAX_PAGE_SIZE);
  });

  it('refuses a cursor made for another list, or garbage, with INVALID_CURSOR', () => {
    expect(() => decodeCursor(encodeCursor('OPP-1', 'opportunities'), 'accounts')).toThrow(
      expect.objectContaining({ code: 'INVALID_CURSOR' }),
    );
    expect(() => decodeCursor('%%%', 'accounts')).toThrow(expect.objectContaining({ code: 'INVALID_CURSOR' }));
  });

  it('turns a page into a connection whose end cursor resumes after the last node', () => {
    const connection = toConnection(
      { nodes: [{ id: 'a' }, { id: 'b' }], hasNextPage: true, totalCount: 5 },
      'things',
      (n) => n.id,
    );
    expect(connection).toEqual({
      nodes: [{ id: 'a' }, { id: 'b' }],
      pageInfo: { endCursor: encodeCursor('b', 'things'), hasNextPage: true },
      totalCount: 5,
    });
    expect(
      toConnection({ nodes: [], hasNextPage: false, totalCount: 0 }, 'things', (n: { id: string }) => n.id).pageInfo,
    ).toEqual({ endCursor: null, hasNextPage: false });
  });
});
