import { refusal } from './refusal';
import type { UpsertContractAmendment } from '../../subgraphs/crm/connector/contract-amendments';
import type { CrmConnector } from '../../subgraphs/crm/connector/crm-connector';

/**
 * The CrmConnector's contract for contract amendments, run inside `describeCrmConnectorContract` against every adapter,
 * on its demo data: OPP-0000011 is CLOSED_WON, OPP-0000022 CLOSED_LOST.
 */
export function describeContractAmendmentCases(connector: () => CrmConnector): void {
  describe('contract amendments', () => {
    const input: UpsertContractAmendment = {
      externalId: 'change-order-1',
      opportunityId: 'OPP-0000011',
      reason: 'Second data migration wave',
      newAmountMinor: 76_100_000,
      currency: 'USD',
      newEndDate: '2027-02-28',
      addMilestones: [{ name: 'Data migration wave 2', amountMinor: 3_000_000, dueDate: '2027-02-28' }],
      removeMilestoneIds: [],
      changeMilestones: [{ milestoneId: 'MS-00000113', amountMinor: null, dueDate: '2027-01-15' }],
      at: '2026-12-06T10:00:00.000Z',
    };
    const { at: _at, ...fields } = input;
    const draft = {
      ...fields,
      id: expect.stringMatching(/^CAM-\d{6}$/),
      status: 'DRAFT',
      createdAt: '2026-12-06T10:00:00.000Z',
      approvedAt: null,
      appliedAt: null,
      psaProjectId: null,
    };

    it('creates a draft once per external ID, edits it while a draft, then approves, applies and unapplies it', async () => {
      const created = await connector().upsertContractAmendment(input);
      expect(created).toEqual({ record: draft, created: true });
      const id = created.record.id;
      expect(await connector().upsertContractAmendment(input)).toEqual({ record: created.record, created: false });
      const edited = await connector().upsertContractAmendment({ ...input, newEndDate: '2027-03-31' });
      expect(edited).toEqual({ record: { ...created.record, newEndDate: '2027-03-31' }, created: false });
      const approved = await connector().approveContractAmendment(id, '2026-12-06T11:00:00.000Z');
      expect(approved).toMatchObject({ status: 'APPROVED', approvedAt: '2026-12-06T11:00:00.000Z' });
      expect(await connector().approveContractAmendment(id, '2026-12-07T00:00:00.000Z')).toEqual(approved);
      expect(await refusal(connector().upsertContractAmendment(input))).toMatchObject({ code: 'INVALID_STATE' });
      expect(
        (await connector().listContractAmendments({ first: 10, afterKey: null }, { status: 'APPROVED' })).nodes,
      ).toEqual([approved]);
      const applied = await connector().markContractAmendmentApplied(id, 'PRJ-0000011', '2026-12-06T12:00:00.000Z');
      expect(applied).toEqual({
        ...approved,
        status: 'APPLIED',
        appliedAt: '2026-12-06T12:00:00.000Z',
        psaProjectId: 'PRJ-0000011',
      });
      expect(await connector().markContractAmendmentApplied(id, 'PRJ-0000011', '2026-12-08T00:00:00.000Z')).toEqual(
        applied,
      );
      expect(await refusal(connector().markContractAmendmentApplied(id, 'PRJ-0000099', 'x'))).toMatchObject({
        code: 'INVALID_STATE',
      });
      expect(await connector().getContractAmendmentsByOpportunity(['OPP-0000011', 'OPP-0000012'])).toEqual([
        [applied],
        [],
      ]);
      expect(await connector().unmarkContractAmendmentApplied(id)).toEqual(approved);
      expect(await connector().unmarkContractAmendmentApplied(id)).toEqual(approved);
      expect(await connector().getContractAmendments([id, 'CAM-999999'])).toEqual([approved, null]);
    });

    it('refuses, writing nothing, an unknown opportunity (NOT_FOUND) and one not closed-won (INVALID_STATE)', async () => {
      expect(await refusal(connector().upsertContractAmendment({ ...input, opportunityId: 'OPP-9999999' }))).toEqual({
        code: 'NOT_FOUND',
        message: "CRM has no opportunity 'OPP-9999999'",
        details: { system: 'crm', field: 'opportunityId', value: 'OPP-9999999' },
      });
      expect(await refusal(connector().upsertContractAmendment({ ...input, opportunityId: 'OPP-0000022' }))).toEqual({
        code: 'INVALID_STATE',
        message:
          "Opportunity 'OPP-0000022' (Advisory Retainer Wave 2) is CLOSED_LOST; only a closed-won deal's contract is amended",
        details: { system: 'crm', field: 'opportunityId', value: 'OPP-0000022' },
      });
      expect(await refusal(connector().approveContractAmendment('CAM-999999', 'x'))).toMatchObject({
        code: 'NOT_FOUND',
      });
      expect((await connector().listContractAmendments({ first: 10, afterKey: null })).totalCount).toBe(0);
    });
  });
}
