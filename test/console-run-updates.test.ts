import { mergeAllNewer, mergeNewer, Timeline } from '../console/src/run-updates';

const state = (id: string, sequence: number, status = 'RUNNING') => ({ id, sequence, status });

describe("the console's sequence bookkeeping (console/src/run-updates.ts)", () => {
  it('keeps a row only when a state is newer, and puts unknown runs first', () => {
    const list = [state('RUN-a', 3), state('RUN-b', 1)];
    expect(mergeNewer(list, state('RUN-a', 2, 'QUEUED'))).toBe(list);
    expect(mergeNewer(list, state('RUN-a', 3, 'QUEUED'))).toBe(list);
    expect(mergeNewer(list, state('RUN-a', 4, 'SUCCEEDED'))).toEqual([
      state('RUN-a', 4, 'SUCCEEDED'),
      state('RUN-b', 1),
    ]);
    expect(mergeNewer(list, state('RUN-c', 1))).toEqual([state('RUN-c', 1), ...list]);
    expect(mergeAllNewer(list, [state('RUN-b', 5), state('RUN-a', 1), state('RUN-b', 4)])).toEqual([
      state('RUN-a', 3),
      state('RUN-b', 5),
    ]);
  });

  it('names the sequences a jump skipped, once, and lists every state in order', () => {
    const timeline = new Timeline<ReturnType<typeof state>>();
    expect(timeline.add(state('RUN-a', 4))).toEqual([]);
    expect(timeline.add(state('RUN-a', 5))).toEqual([]);
    expect(timeline.add(state('RUN-a', 5))).toEqual([]);
    expect(timeline.add(state('RUN-a', 9, 'SUCCEEDED'))).toEqual([6, 7, 8]);
    expect(timeline.add(state('RUN-a', 7))).toEqual([]);
    expect(timeline.last()).toEqual(state('RUN-a', 9, 'SUCCEEDED'));
    expect(timeline.add(state('RUN-a', 11))).toEqual([10]);
    expect(timeline.states().map((s) => s.sequence)).toEqual([4, 5, 7, 9, 11]);
  });
});
