import type { BillingModel } from '../../lib/billing-model';
import type { BillingSummary } from '../../subgraphs/orchestration/flows/bill-approved-time';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/**
 * governance.yaml `billingModels.<model>.billedBy` decides what billApprovedTime does with a project's approved time:
 * RATE_CARD and RETAINER post it to the ERP at rate-card rates (for a retainer, as the draw-down against its fee);
 * MILESTONE leaves it unbilled, counted in the run's output, because the milestone price already bills it.
 */
describe('billing models in governance', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  it('names how each billing model is billed', () => {
    const billedBy = Object.fromEntries(
      Object.entries(loadGovernance().billingModels).map(([model, rules]) => [model, rules.billedBy]),
    );
    expect(billedBy).toEqual({
      FIXED_FEE: 'MILESTONE',
      MILESTONE: 'MILESTONE',
      TIME_AND_MATERIALS: 'RATE_CARD',
      RETAINER: 'RETAINER',
    });
  });

  /** A project of `model`, converted from a won deal, with four approved hours on it; and what was ready to bill. */
  async function projectWithApprovedTime(model: BillingModel, tag: string) {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { billingModel: model });
    const converted = await waitForRun(
      stack,
      (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['SUCCEEDED', 'EXCEPTION'],
    );
    expect(converted.status).toBe('SUCCEEDED');
    const [project] = await stack.stores.psa.getProjects([converted.projectId!]);
    expect(project?.billingModel).toBe(model);
    const [entry] = await stack.stores.psa.submitTimeEntries(`billing-model-${tag}`, [
      {
        projectId: project!.id,
        resourceId: 'RES-000003',
        role: null,
        date: '2026-10-05',
        hoursHundredths: 400,
        billable: true,
        notes: null,
      },
    ]);
    await stack.stores.psa.approveTimeEntries([entry!.id]);
    const ready = await stack.stores.psa.getBillableWork(project!.id, { first: 1000, until: null });
    const [linesBefore] = await stack.stores.erp.getBillingLinesByProject([project!.id]);
    return { project: project!, entry: entry!, ready, linesBefore: linesBefore!.length };
  }

  async function bill(projectId: string) {
    const response = await gql(
      stack.gatewayUrl,
      'mutation($input: BillApprovedTimeInput!) { billApprovedTime(input: $input) { id } }',
      { input: { projectId } },
    );
    const run = await waitForRun(stack, response.body.data!.billApprovedTime.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(run.status).toBe('SUCCEEDED');
    return run.steps[1]!.output as BillingSummary;
  }

  it.each(['FIXED_FEE', 'MILESTONE'] as const)(
    '%s: skips the time (the milestone price bills it), counted with its reason; nothing reaches the ERP',
    async (model) => {
      const { project, entry, ready, linesBefore } = await projectWithApprovedTime(model, model);
      const summary = await bill(project.id);
      expect(summary).toMatchObject({ batches: 0, timeEntries: 0, expenses: 0, totals: {}, postingDate: null });
      expect(summary.skipped).toEqual([
        {
          reason: 'BILLED_BY_MILESTONE',
          timeEntries: ready.timeEntries.length,
          expenses: ready.expenses.length,
        },
      ]);
      // Not billed, and still there: the PSA shows it approved and unbilled, the ERP has no line for it.
      const after = await stack.stores.psa.getBillableWork(project.id, { first: 1000, until: null });
      expect(after.timeEntries.map((t) => t.entry.id)).toContain(entry.id);
      const [lines] = await stack.stores.erp.getBillingLinesByProject([project.id]);
      expect(lines).toHaveLength(linesBefore);
      expect(lines!.some((l) => l.sourceId === entry.id)).toBe(false);
    },
  );

  it.each(['TIME_AND_MATERIALS', 'RETAINER'] as const)(
    '%s: posts the time to the ERP at its rate-card rate and marks it billed; nothing skipped',
    async (model) => {
      const { project, entry, ready } = await projectWithApprovedTime(model, model);
      const priced = ready.timeEntries.find((t) => t.entry.id === entry.id)!;
      const summary = await bill(project.id);
      expect(summary).toMatchObject({
        batches: 1,
        timeEntries: ready.timeEntries.length,
        expenses: ready.expenses.length,
        skipped: [],
      });
      const [lines] = await stack.stores.erp.getBillingLinesByProject([project.id]);
      expect(lines!.filter((l) => l.sourceId === entry.id)).toEqual([
        expect.objectContaining({
          externalId: `time:${entry.id}`,
          quantityHundredths: 400,
          unitPriceMinor: priced.rateMinor,
          amountMinor: priced.amountMinor,
          postingDate: summary.postingDate,
          invoiceId: null,
        }),
      ]);
      const after = await stack.stores.psa.getBillableWork(project.id, { first: 1000, until: null });
      expect(after.timeEntries).toEqual([]);
    },
  );
});
