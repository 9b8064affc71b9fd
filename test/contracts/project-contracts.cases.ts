import { refusal } from './refusal';
import type { ErpConnector } from '../../subgraphs/erp/connector/erp-connector';
import type { AmendProjectContract } from '../../subgraphs/erp/connector/project-contracts';

/**
 * The ErpConnector's contract for project contracts set by amendments, run inside `describeErpConnectorContract`
 * against every adapter, on its demo data: project PRJ-0000011 has dimensions, its customer CUS-000001 bills in USD.
 */
export function describeProjectContractCases(connector: () => ErpConnector): void {
  describe('amendProjectContract and revertProjectContractAmendment', () => {
    const first: AmendProjectContract = {
      externalId: 'amendment:CAM-000001',
      psaProjectId: 'PRJ-0000011',
      valueMinor: 76_100_000,
      currency: 'USD',
      endDate: '2027-02-28',
      schedule: [{ milestoneId: 'MS-00000113', description: 'Milestone: UAT', dueDate: '2027-01-15', amountMinor: 1 }],
    };
    const second: AmendProjectContract = { ...first, externalId: 'amendment:CAM-000002', valueMinor: 80_000_000 };
    const { externalId: _first, ...firstState } = first;
    const { externalId: _second, ...secondState } = second;

    it('sets the contract once per external ID, and reverts it to the state before (none, for the first)', async () => {
      expect(await connector().getProjectContracts(['PRJ-0000011', 'PRJ-9999999'])).toEqual([null, null]);
      const stored = { ...firstState, amendmentExternalId: first.externalId };
      expect(await connector().amendProjectContract(first)).toEqual({ record: stored, applied: true });
      expect(await connector().amendProjectContract(first)).toEqual({ record: stored, applied: false });
      const later = { ...secondState, amendmentExternalId: second.externalId };
      expect(await connector().amendProjectContract(second)).toEqual({ record: later, applied: true });
      expect(await refusal(connector().revertProjectContractAmendment(first.externalId))).toMatchObject({
        code: 'INVALID_STATE',
      });
      expect(await connector().revertProjectContractAmendment(second.externalId)).toEqual({ reverted: true });
      expect(await connector().getProjectContracts(['PRJ-0000011'])).toEqual([stored]);
      expect(await connector().revertProjectContractAmendment(first.externalId)).toEqual({ reverted: true });
      expect(await connector().getProjectContracts(['PRJ-0000011'])).toEqual([null]);
      expect(await connector().revertProjectContractAmendment(first.externalId)).toEqual({ reverted: false });
    });

    it('refuses, writing nothing, a project without dimensions, another currency and a reused external ID', async () => {
      expect(await refusal(connector().amendProjectContract({ ...first, psaProjectId: 'PRJ-9999999' }))).toEqual({
        code: 'NOT_FOUND',
        message: "ERP has no project 'PRJ-9999999': push its financial dimensions first",
        details: { system: 'erp', field: 'psaProjectId', value: 'PRJ-9999999' },
      });
      expect(await refusal(connector().amendProjectContract({ ...first, currency: 'GBP' }))).toMatchObject({
        code: 'VALIDATION_REJECTED',
        details: { field: 'currency', value: 'GBP' },
      });
      expect(await connector().getProjectContracts(['PRJ-0000011'])).toEqual([null]);
      await connector().amendProjectContract(first);
      expect(await refusal(connector().amendProjectContract({ ...first, valueMinor: 1 }))).toMatchObject({
        code: 'DUPLICATE_EXTERNAL_ID',
      });
    });
  });
}
