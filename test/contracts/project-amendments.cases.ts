import { refusal } from './refusal';
import type { AmendProject } from '../../subgraphs/psa/connector/project-amendments';
import type { MilestoneRecord, PsaConnector } from '../../subgraphs/psa/connector/psa-connector';

/**
 * The PsaConnector's contract for contract amendments (`amendProject`, `revertProjectAmendment`), run inside
 * `describePsaConnectorContract` against every adapter, on its demo data: project PRJ-0000011 (USD 731 000.00, milestone
 * billed) has MS-00000111 INVOICED, MS-00000112 COMPLETED, MS-00000113 and MS-00000114 PLANNED.
 */
export function describeProjectAmendmentCases(connector: () => PsaConnector): void {
  describe('amendProject and revertProjectAmendment', () => {
    const amendment: AmendProject = {
      externalId: 'amendment:CAM-000001',
      projectId: 'PRJ-0000011',
      budgetMinor: 76_100_000,
      currency: 'USD',
      endDate: '2027-02-28',
      addMilestones: [{ name: 'Data migration wave 2', amountMinor: 13_965_000, dueDate: '2027-02-28' }],
      removeMilestoneIds: ['MS-00000114'],
      changeMilestones: [{ milestoneId: 'MS-00000113', amountMinor: null, dueDate: '2027-01-15' }],
    };
    const state = async () => ({
      project: (await connector().getProjects(['PRJ-0000011']))[0],
      milestones: (await connector().getMilestonesByProject(['PRJ-0000011']))[0] as MilestoneRecord[],
    });

    it('applies an amendment once: a repeat changes nothing; revert puts the project back, removed milestones under their IDs', async () => {
      const before = await state();
      const applied = await connector().amendProject(amendment);
      const [added] = applied.addedMilestoneIds;
      expect(added).toMatch(/^MS-/);
      expect(applied.applied).toBe(true);
      expect(applied.project).toMatchObject({ budgetMinor: 76_100_000, endDate: '2027-02-28' });
      expect(applied.milestones.map((m) => [m.id, m.sequence, m.dueDate, m.amountMinor, m.status])).toEqual([
        ['MS-00000111', 1, '2026-07-20', 14_620_000, 'INVOICED'],
        ['MS-00000112', 2, '2026-09-28', 29_240_000, 'COMPLETED'],
        ['MS-00000113', 3, '2027-01-15', 18_275_000, 'PLANNED'],
        [added, 4, '2027-02-28', 13_965_000, 'PLANNED'],
      ]);
      expect(await state()).toEqual({ project: applied.project, milestones: applied.milestones });
      expect(await connector().getProjectAmendments([amendment.externalId, 'amendment:CAM-999999'])).toEqual([
        { externalId: amendment.externalId, projectId: 'PRJ-0000011', status: 'APPLIED' },
        null,
      ]);
      expect(await connector().amendProject(amendment)).toEqual({ ...applied, applied: false });

      expect(await connector().revertProjectAmendment(amendment.externalId)).toEqual({ reverted: true });
      expect(await state()).toEqual(before);
      expect(await connector().revertProjectAmendment(amendment.externalId)).toEqual({ reverted: false });
      expect(await connector().revertProjectAmendment('amendment:CAM-999999')).toEqual({ reverted: false });
      expect(await connector().getProjectAmendments([amendment.externalId])).toEqual([
        { externalId: amendment.externalId, projectId: 'PRJ-0000011', status: 'REVERTED' },
      ]);
      // Reverted, it may be applied again; its added milestone gets a new ID (the first one's is never issued again).
      const again = await connector().amendProject(amendment);
      expect([again.applied, again.addedMilestoneIds[0] === added]).toEqual([true, false]);
    });

    it('refuses, writing nothing, invoiced milestones (INVOICED_MILESTONE_LOCKED), unknown ones and projects (NOT_FOUND), another currency and a reused external ID', async () => {
      const before = await state();
      expect(
        await refusal(
          connector().amendProject({
            ...amendment,
            removeMilestoneIds: ['MS-00000111'],
            changeMilestones: [],
          }),
        ),
      ).toEqual({
        code: 'INVOICED_MILESTONE_LOCKED',
        message:
          'PSA refused to change invoiced milestone MS-00000111 (Discovery and design signed off) of project PRJ-0000011: an invoiced milestone never changes',
        details: { system: 'psa', field: 'milestoneId', value: 'MS-00000111' },
      });
      expect(
        await refusal(connector().amendProject({ ...amendment, removeMilestoneIds: ['MS-00000121'] })),
      ).toMatchObject({ code: 'NOT_FOUND', details: { field: 'milestoneId', value: 'MS-00000121' } });
      expect(await refusal(connector().amendProject({ ...amendment, projectId: 'PRJ-9999999' }))).toMatchObject({
        code: 'NOT_FOUND',
        details: { field: 'projectId', value: 'PRJ-9999999' },
      });
      expect(await refusal(connector().amendProject({ ...amendment, currency: 'GBP' }))).toMatchObject({
        code: 'VALIDATION_REJECTED',
        details: { field: 'currency', value: 'GBP' },
      });
      expect(await state()).toEqual(before);
      await connector().amendProject(amendment);
      expect(await refusal(connector().amendProject({ ...amendment, budgetMinor: 1 }))).toMatchObject({
        code: 'DUPLICATE_EXTERNAL_ID',
        details: { field: 'externalId', value: amendment.externalId },
      });
    });

    it('refuses to undo an amendment with a later one applied on top, or whose added milestone has progressed', async () => {
      const first = await connector().amendProject(amendment);
      await connector().amendProject({
        externalId: 'amendment:CAM-000002',
        projectId: 'PRJ-0000011',
        budgetMinor: null,
        currency: null,
        endDate: '2027-03-31',
        addMilestones: [],
        removeMilestoneIds: [],
        changeMilestones: [],
      });
      expect(await refusal(connector().revertProjectAmendment(amendment.externalId))).toMatchObject({
        code: 'INVALID_STATE',
        message: `Amendment '${amendment.externalId}' of project PRJ-0000011 cannot be undone: later amendment 'amendment:CAM-000002' is applied on top of it; undo it first`,
      });
      expect(await connector().revertProjectAmendment('amendment:CAM-000002')).toEqual({ reverted: true });
      await connector().completeMilestone(first.addedMilestoneIds[0]!, '2027-02-01');
      expect(await refusal(connector().revertProjectAmendment(amendment.externalId))).toMatchObject({
        code: 'INVALID_STATE',
        message: `Amendment '${amendment.externalId}' cannot be undone: milestone ${first.addedMilestoneIds[0]} (Data migration wave 2) (completed) it added has progressed since`,
      });
    });
  });
}
