import { planCorrection } from '../subgraphs/orchestration/engine/corrections';
import type { RunRecord, StepStatus } from '../subgraphs/orchestration/engine/ledger';
import { FLOWS } from '../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../subgraphs/orchestration/governance/governance';

const governance = loadGovernance();
const flow = (name: string) => FLOWS.find((f) => f.name === name)!;

function run(name: string, input: Record<string, unknown>, steps: [StepStatus, unknown][]): RunRecord {
  return {
    id: 'RUN-1',
    flow: name,
    status: 'EXCEPTION',
    input,
    correlationId: 'c',
    subjectKey: null,
    accountId: null,
    opportunityId: null,
    projectId: null,
    sequence: 4,
    nextAttemptAt: 0,
    triggeredBy: 'ops',
    traceContext: null,
    createdAt: '',
    updatedAt: '',
    steps: flow(name).steps.map((s, index) => ({
      index,
      name: s.name,
      status: steps[index]?.[0] ?? 'PENDING',
      attempts: 1,
      compensationAttempts: 0,
      output: steps[index]?.[1] ?? null,
      error: null,
      finishedAt: null,
    })),
  };
}

const stoppedAtCustomer = run('convertOpportunityToProject', { opportunityId: 'OPP-1' }, [
  ['SUCCEEDED', { deliveryRegion: 'UK' }],
  ['FAILED', null],
]);
const stoppedAtProject = run('convertOpportunityToProject', { opportunityId: 'OPP-1' }, [
  ['SUCCEEDED', { deliveryRegion: 'UK' }],
  ['SUCCEEDED', { customerId: 'CUS-1', created: true }],
  ['FAILED', null],
]);

describe('planCorrection', () => {
  it('re-runs the completed steps that depend on a changed field (the deal read in validateOpportunity)', () => {
    expect(
      planCorrection(
        flow('convertOpportunityToProject'),
        stoppedAtCustomer,
        { deliveryRegion: 'DACH', taxJurisdiction: 'DE' },
        governance,
      ),
    ).toEqual({ patch: { deliveryRegion: 'DACH', taxJurisdiction: 'DE' }, rerun: [0] });
    // A field read only by the failed step re-runs nothing more; an unchanged value invalidates nothing.
    expect(
      planCorrection(flow('convertOpportunityToProject'), stoppedAtCustomer, { taxJurisdiction: 'GB' }, governance),
    ).toEqual({ patch: { taxJurisdiction: 'GB' }, rerun: [] });
  });

  it('keeps a completed write the correction does not touch, and refuses one it would have to redo, saying what to do', () => {
    expect(
      planCorrection(
        flow('convertOpportunityToProject'),
        stoppedAtProject,
        { servicePackage: 'DATA_PLATFORM' },
        governance,
      ),
    ).toEqual({ patch: { servicePackage: 'DATA_PLATFORM' }, rerun: [0] });
    expect(() =>
      planCorrection(flow('convertOpportunityToProject'), stoppedAtProject, { deliveryRegion: 'DACH' }, governance),
    ).toThrow(
      expect.objectContaining({
        extensions: { code: 'INVALID_STATE', runId: 'RUN-1', step: 'ensureErpCustomer' },
        message: expect.stringMatching(
          /^Run RUN-1 cannot be corrected: its step 'ensureErpCustomer' already created ERP customer CUS-1 from the input as it was, and the correction of 'deliveryRegion' would have to redo it\. Abandon the run/,
        ),
      }),
    );
  });

  it.each([
    ['expectedStartDate', 'not-a-date', "expectedStartDate must be a date written YYYY-MM-DD; got 'not-a-date'"],
    ['expectedStartDate', '2026-02-30', "expectedStartDate must be a date written YYYY-MM-DD; got '2026-02-30'"],
    [
      'billingModel',
      'BANANA',
      "billingModel must be one of FIXED_FEE, TIME_AND_MATERIALS, MILESTONE, RETAINER; got 'BANANA'",
    ],
    ['deliveryRegion', 'MARS', "deliveryRegion must be one of NA, UK, DACH (governance); got 'MARS'"],
    ['servicePackage', 'nope', "servicePackage must be a service package code; got 'nope'"],
    [
      'taxJurisdiction',
      'de\u0000',
      "taxJurisdiction must be an ERP tax jurisdiction code (capitals, digits, dashes); got 'de\u0000'",
    ],
  ])('refuses %s %j with BAD_USER_INPUT naming the field', (field, value, message) => {
    expect(() =>
      planCorrection(flow('convertOpportunityToProject'), stoppedAtCustomer, { [field]: value }, governance),
    ).toThrow(
      expect.objectContaining({ message, extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field }) }),
    );
  });

  it("refuses another flow's fields on a run of a flow that takes none, naming the field", () => {
    const billing = run('syncInvoiceStatus', { invoiceId: 'INV-1' }, [['FAILED', null]]);
    expect(() =>
      planCorrection(
        flow('syncInvoiceStatus'),
        billing,
        { deliveryRegion: 'DACH', legalEntity: 'MERIDIAN-DE' },
        governance,
      ),
    ).toThrow(
      expect.objectContaining({
        message:
          "'deliveryRegion' is not an input of syncInvoiceStatus runs, which take no corrections; retry the run as it is, resolve or abandon it",
        extensions: { code: 'BAD_USER_INPUT', field: 'deliveryRegion', runId: 'RUN-1' },
      }),
    );
  });
});
