import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import type { ErpConnector } from '../../subgraphs/erp/connector/erp-connector';
import { startTsx, waitForOutput, type Child } from '../support/processes';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, secretEnv, startTestStack } from '../support/stack';

type Stack = Awaited<ReturnType<typeof startTestStack>>;

const STEPS = ['readAmendment', 'planProjectChanges', 'amendPsaProject', 'amendErpContract', 'markAmendmentApplied'];
const GBP = (amount: string) => ({ amount, currency: 'GBP' });
let counter = 0;

/** The end state of a deal in all three systems, read through the gateway. */
const END_STATE = `query($opportunity: ID!, $project: ID!) {
  opportunity(id: $opportunity) { amendments { id status psaProjectId newAmount { amount currency } } }
  project(id: $project) {
    budget { amount currency } endDate
    milestones { id name amount { amount currency } dueDate status invoiceId }
    contract { value { amount currency } endDate amendmentExternalId
               billingSchedule { milestoneId description dueDate amount { amount currency } } }
  }
}`;

const AMEND = `mutation($input: UpsertContractAmendmentInput!) {
  upsertContractAmendment(input: $input) { created amendment { id status } }
}`;
const APPLY = `mutation($input: ApplyContractAmendmentInput!) { applyContractAmendment(input: $input) { id flow status } }`;

describe('flow applyContractAmendment', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  const mutate = async (query: string, variables: Record<string, unknown>) =>
    (await gql(stack.gatewayUrl, query, variables)).body;

  /** A won, converted milestone-billed deal of 240 000 GBP: milestones 60 000, 120 000 and 60 000 (Handover). */
  async function convertedDeal(on: Pick<Stack, 'gatewayUrl'> & Parameters<typeof waitForRun>[0] = stack) {
    const { accountId, opportunityId } = await createWonOpportunity(on.gatewayUrl);
    const run = await waitForRun(
      on,
      (await convert(on.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['SUCCEEDED', 'EXCEPTION'],
    );
    expect(run.status).toBe('SUCCEEDED');
    const [project] = await on.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [milestones] = await on.stores.psa.getMilestonesByProject([project!.id]);
    return { accountId, opportunityId, projectId: project!.id, milestones: milestones! };
  }

  /** Creates an amendment through the gateway, approved unless `approve` is false; returns its ID. */
  async function amendment(
    opportunityId: string,
    fields: Record<string, unknown>,
    approve = true,
    url = stack.gatewayUrl,
  ): Promise<string> {
    const { body } = await gql(url, AMEND, {
      input: { externalId: `test-amendment-${process.pid}-${++counter}`, opportunityId, ...fields },
    });
    expect(body.errors).toBeUndefined();
    const id = body.data!.upsertContractAmendment.amendment.id as string;
    if (approve) {
      const approved = await gql(url, 'mutation($id: ID!) { approveContractAmendment(id: $id) { status } }', { id });
      expect(approved.body).toEqual({ data: { approveContractAmendment: { status: 'APPROVED' } } });
    }
    return id;
  }

  /** Completes and invoices a milestone through billMilestone; returns the ERP invoice ID. */
  async function invoice(milestoneId: string): Promise<string> {
    await mutate('mutation($id: ID!) { completeMilestone(id: $id) { id } }', { id: milestoneId });
    const started = await mutate('mutation($input: BillMilestoneInput!) { billMilestone(input: $input) { id } }', {
      input: { milestoneId },
    });
    const run = await waitForRun(stack, started.data!.billMilestone.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(run.status).toBe('SUCCEEDED');
    return (run.steps[2]!.output as { invoiceId: string }).invoiceId;
  }

  const summary = (run: RunRecord) => run.steps.map((s) => [s.name, s.status, s.attempts]);

  /** Handover (60 000) replaced by "Handover and training" (90 000), Pipelines moved, the contract 270 000, end later. */
  const growth = (milestones: { id: string }[]) => ({
    reason: 'Client adds a training phase',
    newAmount: GBP('270000.00'),
    newEndDate: '2027-04-30',
    addMilestones: [{ name: 'Handover and training', amount: GBP('90000.00'), dueDate: '2027-04-30' }],
    removeMilestoneIds: [milestones[2]!.id],
    changeMilestones: [{ milestoneId: milestones[1]!.id, dueDate: '2027-03-15' }],
  });

  it('applies an approved amendment to the PSA project and the ERP contract once, leaves invoiced milestones as they are, and marks it applied in the CRM', async () => {
    const { accountId, opportunityId, projectId, milestones } = await convertedDeal();
    const invoiceId = await invoice(milestones[0]!.id);
    const amendmentId = await amendment(opportunityId, growth(milestones));

    const key = `amend-${amendmentId}`;
    const started = await mutate(APPLY, { input: { amendmentId, idempotencyKey: key } });
    expect(started).toEqual({
      data: {
        applyContractAmendment: {
          id: expect.stringMatching(/^RUN-/),
          flow: 'applyContractAmendment',
          status: 'QUEUED',
        },
      },
    });
    const runId = started.data!.applyContractAmendment.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(summary(run)).toEqual(STEPS.map((name) => [name, 'SUCCEEDED', 1]));
    expect(run).toMatchObject({ accountId, projectId, triggeredBy: 'test-service' });
    const added = (run.steps[2]!.output as { addedMilestoneIds: string[] }).addedMilestoneIds;
    expect(added).toEqual([expect.stringMatching(/^MS-/)]);

    const expected = {
      data: {
        opportunity: {
          amendments: [{ id: amendmentId, status: 'APPLIED', psaProjectId: projectId, newAmount: GBP('270000.00') }],
        },
        project: {
          budget: GBP('270000.00'),
          endDate: '2027-04-30',
          milestones: [
            // Invoiced before the amendment: untouched.
            {
              id: milestones[0]!.id,
              name: 'Architecture approved',
              amount: GBP('60000.00'),
              dueDate: '2026-12-21',
              status: 'INVOICED',
              invoiceId,
            },
            {
              id: milestones[1]!.id,
              name: 'Pipelines in production',
              amount: GBP('120000.00'),
              dueDate: '2027-03-15',
              status: 'PLANNED',
              invoiceId: null,
            },
            {
              id: added[0],
              name: 'Handover and training',
              amount: GBP('90000.00'),
              dueDate: '2027-04-30',
              status: 'PLANNED',
              invoiceId: null,
            },
          ],
          contract: {
            value: GBP('270000.00'),
            endDate: '2027-04-30',
            amendmentExternalId: `amendment:${amendmentId}`,
            billingSchedule: [
              {
                milestoneId: milestones[0]!.id,
                description: 'Milestone: Architecture approved',
                dueDate: '2026-12-21',
                amount: GBP('60000.00'),
              },
              {
                milestoneId: milestones[1]!.id,
                description: 'Milestone: Pipelines in production',
                dueDate: '2027-03-15',
                amount: GBP('120000.00'),
              },
              {
                milestoneId: added[0],
                description: 'Milestone: Handover and training',
                dueDate: '2027-04-30',
                amount: GBP('90000.00'),
              },
            ],
          },
        },
      },
    };
    expect(await mutate(END_STATE, { opportunity: opportunityId, project: projectId })).toEqual(expected);

    // The same key, no key, another key: always the one run.
    const same = {
      data: { applyContractAmendment: { id: runId, flow: 'applyContractAmendment', status: 'SUCCEEDED' } },
    };
    expect(await mutate(APPLY, { input: { amendmentId, idempotencyKey: key } })).toEqual(same);
    expect(await mutate(APPLY, { input: { amendmentId } })).toEqual(same);
    expect(await mutate(APPLY, { input: { amendmentId, idempotencyKey: `${key}-again` } })).toEqual(same);
    // A write repeated with the amendment's external ID (a retried step) changes nothing in the PSA.
    const repeat = await mutate(
      `mutation($input: AmendProjectInput!) { amendProject(input: $input) { applied addedMilestones { id } } }`,
      {
        input: {
          externalId: `amendment:${amendmentId}`,
          projectId,
          budget: GBP('270000.00'),
          endDate: '2027-04-30',
          addMilestones: [{ name: 'Handover and training', amount: GBP('90000.00'), dueDate: '2027-04-30' }],
          removeMilestoneIds: [milestones[2]!.id],
          changeMilestones: [{ milestoneId: milestones[1]!.id, dueDate: '2027-03-15' }],
        },
      },
    );
    expect(repeat).toEqual({ data: { amendProject: { applied: false, addedMilestones: [{ id: added[0] }] } } });
    expect(await mutate(END_STATE, { opportunity: opportunityId, project: projectId })).toEqual(expected);
  });

  it('refuses an amendment that would change or remove an invoiced milestone with an exception naming each, and writes nothing', async () => {
    const { opportunityId, projectId, milestones } = await convertedDeal();
    const first = await invoice(milestones[0]!.id);
    const before = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    const amendmentId = await amendment(opportunityId, {
      newAmount: GBP('240000.00'),
      changeMilestones: [{ milestoneId: milestones[0]!.id, amount: GBP('50000.00'), dueDate: '2027-01-15' }],
      addMilestones: [{ name: 'Extra reporting', amount: GBP('10000.00'), dueDate: '2027-02-01' }],
    });
    const runId = (await mutate(APPLY, { input: { amendmentId } })).data!.applyContractAmendment.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(summary(run)).toEqual([
      ['readAmendment', 'SUCCEEDED', 1],
      ['planProjectChanges', 'FAILED', 1],
      ['amendPsaProject', 'PENDING', 0],
      ['amendErpContract', 'PENDING', 0],
      ['markAmendmentApplied', 'PENDING', 0],
    ]);
    const [project] = await stack.stores.psa.getProjects([projectId]);
    const [deal] = await stack.stores.crm.getOpportunities([opportunityId]);
    const { body } = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { syncRun(id: $id) { status exception { step class system message } steps { name error { code } } } }',
      { id: runId },
    );
    expect(body.data!.syncRun).toEqual({
      status: 'EXCEPTION',
      exception: {
        step: 'planProjectChanges',
        class: 'CONFLICT',
        system: 'psa',
        message: `Contract amendment ${amendmentId} of opportunity '${opportunityId}' (${deal!.name}) cannot be applied to project ${projectId} (${project!.code}, ${project!.name}): milestone ${milestones[0]!.id} (Architecture approved) is invoiced on ERP invoice ${first} at 60000.00 GBP, and the amendment would change its amount to 50000.00 GBP and its due date from 2026-12-21 to 2027-01-15. An invoiced milestone is never changed (a credit note is finance's decision): make a new amendment without it, then resolve or abandon this run`,
      },
      steps: STEPS.map((name) => ({
        name,
        error: name === 'planProjectChanges' ? { code: 'INVOICED_MILESTONE_LOCKED' } : null,
      })),
    });
    // Nothing written: the project, its milestones and the (absent) ERP contract are as they were, the amendment APPROVED.
    const after = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    expect(after).toEqual({
      data: {
        ...before.data,
        opportunity: {
          amendments: [{ id: amendmentId, status: 'APPROVED', psaProjectId: null, newAmount: GBP('240000.00') }],
        },
      },
    });
    expect(after.data.project.contract).toBeNull();

    // The PSA keeps the rule itself, for any caller: removing the invoiced milestone is refused, naming it.
    const direct = await gql(
      stack.gatewayUrl,
      'mutation($input: AmendProjectInput!) { amendProject(input: $input) { applied } }',
      { input: { externalId: `direct-${amendmentId}`, projectId, removeMilestoneIds: [milestones[0]!.id] } },
    );
    expect(direct.body.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      [
        'INVOICED_MILESTONE_LOCKED',
        `PSA refused to change invoiced milestone ${milestones[0]!.id} (Architecture approved) of project ${projectId}: an invoiced milestone never changes`,
      ],
    ]);
  });

  it('undoes the PSA and ERP writes newest first when a stopped run is abandoned', async () => {
    const { opportunityId, projectId, milestones } = await convertedDeal();
    const before = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    const amendmentId = await amendment(opportunityId, growth(milestones));
    // Someone marked the amendment applied to another project by hand: the last step finds it so and stops the run,
    // after the PSA project and the ERP contract were amended.
    await mutate('mutation($id: ID!, $p: ID!) { markContractAmendmentApplied(id: $id, psaProjectId: $p) { id } }', {
      id: amendmentId,
      p: 'PRJ-9999999',
    });
    const runId = (await mutate(APPLY, { input: { amendmentId } })).data!.applyContractAmendment.id;
    const stopped = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(summary(stopped).map(([name, status]) => [name, status])).toEqual([
      ['readAmendment', 'SUCCEEDED'],
      ['planProjectChanges', 'SUCCEEDED'],
      ['amendPsaProject', 'SUCCEEDED'],
      ['amendErpContract', 'SUCCEEDED'],
      ['markAmendmentApplied', 'FAILED'],
    ]);
    const amended = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    expect([amended.data.project.budget, amended.data.project.contract.value]).toEqual([
      GBP('270000.00'),
      GBP('270000.00'),
    ]);

    expect(await mutate('mutation($id: ID!) { abandonRun(id: $id) { status } }', { id: runId })).toEqual({
      data: { abandonRun: { status: 'COMPENSATING' } },
    });
    const abandoned = await waitForRun(stack, runId, ['ABANDONED', 'COMPENSATION_FAILED']);
    expect(abandoned.status).toBe('ABANDONED');
    const audit = (await stack.stores.ledger.getAuditByRun([runId]))[0]!;
    expect(
      audit.filter((a) => a.action === 'STEP_COMPENSATED').map((a) => (a.detail as { step: string }).step),
    ).toEqual(['amendErpContract', 'amendPsaProject', 'planProjectChanges', 'readAmendment']);
    // The project is back as it was (the removed milestone restored under its own ID), the ERP has no contract state.
    expect(await mutate(END_STATE, { opportunity: opportunityId, project: projectId })).toEqual({
      data: {
        ...before.data,
        opportunity: {
          amendments: [
            { id: amendmentId, status: 'APPLIED', psaProjectId: 'PRJ-9999999', newAmount: GBP('270000.00') },
          ],
        },
      },
    });
  });

  it('applies an amendment once when a run stopped after the PSA write is resolved and the amendment applied again', async () => {
    const { opportunityId, projectId, milestones } = await convertedDeal();
    const amendmentId = await amendment(opportunityId, growth(milestones));
    // The ERP loses the project's dimensions: the ERP step finds no project and the run stops after the PSA write.
    const [dimensions] = await stack.stores.erp.getProjectDimensions([projectId]);
    await stack.stores.erp.deleteProjectDimensions(projectId);
    const first = (await mutate(APPLY, { input: { amendmentId } })).data!.applyContractAmendment.id;
    const stopped = await waitForRun(stack, first, ['SUCCEEDED', 'EXCEPTION']);
    expect(summary(stopped).map(([name, status]) => [name, status])).toEqual([
      ['readAmendment', 'SUCCEEDED'],
      ['planProjectChanges', 'SUCCEEDED'],
      ['amendPsaProject', 'SUCCEEDED'],
      ['amendErpContract', 'FAILED'],
      ['markAmendmentApplied', 'PENDING'],
    ]);
    // A person restores the dimensions and resolves the exception (keeping the PSA write); the amendment, still
    // APPROVED in the CRM, is applied again by a new run.
    await stack.stores.erp.upsertProjectDimensions(dimensions!);
    const exception = await mutate('query($id: ID!) { syncRun(id: $id) { exception { id } } }', { id: first });
    await mutate('mutation($id: ID!) { resolveException(id: $id, note: "dimensions restored") { id } }', {
      id: exception.data.syncRun.exception.id,
    });
    const second = (await mutate(APPLY, { input: { amendmentId } })).data!.applyContractAmendment.id;
    expect(second).not.toBe(first);
    const run = await waitForRun(stack, second, ['SUCCEEDED', 'EXCEPTION']);
    expect(summary(run)).toEqual(STEPS.map((name) => [name, 'SUCCEEDED', 1]));
    expect(run.steps[2]!.output).toMatchObject({ applied: false });
    const end = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    expect(end.data.project.milestones.map((m: { name: string; amount: unknown }) => [m.name, m.amount])).toEqual([
      ['Architecture approved', GBP('60000.00')],
      ['Pipelines in production', GBP('120000.00')],
      ['Handover and training', GBP('90000.00')],
    ]);
    expect([
      end.data.project.budget,
      end.data.project.contract.value,
      end.data.opportunity.amendments[0].status,
    ]).toEqual([GBP('270000.00'), GBP('270000.00'), 'APPLIED']);
  });

  it('stops an amendment whose milestones would not add up to the contract value, or that names a milestone of another project, before any write', async () => {
    const { opportunityId, projectId, milestones } = await convertedDeal();
    const other = await convertedDeal();
    const before = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    const [project] = await stack.stores.psa.getProjects([projectId]);
    const [deal] = await stack.stores.crm.getOpportunities([opportunityId]);
    const where = `project ${projectId} (${project!.code}, ${project!.name})`;
    const stopped = async (fields: Record<string, unknown>) => {
      const amendmentId = await amendment(opportunityId, fields);
      const runId = (await mutate(APPLY, { input: { amendmentId } })).data!.applyContractAmendment.id;
      const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
      return [
        run.status,
        run.steps[1]!.error && { class: run.steps[1]!.error.class, message: run.steps[1]!.error.message },
        amendmentId,
      ];
    };
    const label = (id: unknown) => `Contract amendment ${id} of opportunity '${opportunityId}' (${deal!.name})`;
    const short = await stopped({ newAmount: GBP('250000.00') });
    expect(short).toEqual([
      'EXCEPTION',
      {
        class: 'BAD_VALUE',
        message: `${label(short[2])} cannot be applied to ${where}: its milestones would add up to 240000.00 GBP, but the contract value would be 250000.00 GBP; a milestone project invoices its value through its milestones, so correct the amendment in the CRM`,
      },
      short[2],
    ]);
    const foreign = await stopped({ removeMilestoneIds: [other.milestones[0]!.id], newAmount: GBP('180000.00') });
    expect(foreign).toEqual([
      'EXCEPTION',
      {
        class: 'BAD_VALUE',
        message: `${label(foreign[2])} names milestone ${other.milestones[0]!.id}, which ${where} does not have; correct the amendment in the CRM`,
      },
      foreign[2],
    ]);
    const after = await mutate(END_STATE, { opportunity: opportunityId, project: projectId });
    expect([after.data.project, milestones.length]).toEqual([before.data.project, 3]);
  });

  it("amends a time-and-materials project's budget, end date and ERP contract value, with no billing schedule, and refuses milestones for it", async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl, {
      billingModel: 'TIME_AND_MATERIALS',
    });
    const conversion = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    expect((await waitForRun(stack, conversion, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [deal] = await stack.stores.crm.getOpportunities([opportunityId]);
    const apply = async (fields: Record<string, unknown>) => {
      const amendmentId = await amendment(opportunityId, fields);
      const runId = (await mutate(APPLY, { input: { amendmentId } })).data!.applyContractAmendment.id;
      return { amendmentId, run: await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']) };
    };
    const refused = await apply({
      addMilestones: [{ name: 'Phase 2', amount: GBP('5000.00'), dueDate: '2027-05-01' }],
    });
    expect([refused.run.status, refused.run.steps[1]!.error?.message]).toEqual([
      'EXCEPTION',
      `Contract amendment ${refused.amendmentId} of opportunity '${opportunityId}' (${deal!.name}) adds milestones to project ${project!.id} (${project!.code}, ${project!.name}), which is billed time and materials: only fixed-fee and milestone projects are invoiced by milestone; amend its contract value and end date instead`,
    ]);
    const { amendmentId, run } = await apply({ newAmount: GBP('300000.50'), newEndDate: '2027-06-30' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', accountId, projectId: project!.id });
    expect(await mutate(END_STATE, { opportunity: opportunityId, project: project!.id })).toEqual({
      data: {
        opportunity: {
          amendments: [
            { id: refused.amendmentId, status: 'APPROVED', psaProjectId: null, newAmount: null },
            { id: amendmentId, status: 'APPLIED', psaProjectId: project!.id, newAmount: GBP('300000.50') },
          ],
        },
        project: {
          budget: GBP('300000.50'),
          endDate: '2027-06-30',
          milestones: [],
          contract: {
            value: GBP('300000.50'),
            endDate: '2027-06-30',
            amendmentExternalId: `amendment:${amendmentId}`,
            billingSchedule: [],
          },
        },
      },
    });
  });

  it('refuses bad amendments with coded errors and writes nothing', async () => {
    const { opportunityId } = await convertedDeal();
    const codes = async (fields: Record<string, unknown>) => {
      const { body } = await gql(stack.gatewayUrl, AMEND, {
        input: { externalId: `bad-${process.pid}-${++counter}`, opportunityId, ...fields },
      });
      return body.errors?.map((e) => [e.extensions?.code, e.extensions?.field, e.message]);
    };
    expect(await codes({ opportunityId: 'OPP-9999999', newAmount: GBP('1.00') })).toEqual([
      ['NOT_FOUND', 'opportunityId', `CRM has no opportunity 'OPP-9999999'`],
    ]);
    expect(await codes({ newAmount: GBP('-10.00') })).toEqual([
      ['BAD_USER_INPUT', 'newAmount.amount', 'newAmount must be zero or more; got -10.00 GBP'],
    ]);
    expect(await codes({ addMilestones: [{ name: 'Free', amount: GBP('0.00'), dueDate: '2027-01-01' }] })).toEqual([
      [
        'BAD_USER_INPUT',
        'addMilestones[0].amount.amount',
        'addMilestones[0].amount must be more than zero; got 0.00 GBP',
      ],
    ]);
    expect(await codes({ reason: 'nothing' })).toEqual([
      [
        'BAD_USER_INPUT',
        'input',
        'An amendment must change something: a new amount, a new end date, or milestones added, removed or changed',
      ],
    ]);
    // A lost deal takes no amendment.
    const lost = await createWonOpportunity(stack.gatewayUrl, { stage: 'CLOSED_LOST' });
    const [lostDeal] = await stack.stores.crm.getOpportunities([lost.opportunityId]);
    expect(await codes({ opportunityId: lost.opportunityId, newAmount: GBP('1.00') })).toEqual([
      [
        'INVALID_STATE',
        'opportunityId',
        `Opportunity '${lost.opportunityId}' (${lostDeal!.name}) is CLOSED_LOST; only a closed-won deal's contract is amended`,
      ],
    ]);
    const amendments = await mutate(
      'query($o1: ID!, $o2: ID!) { a: opportunity(id: $o1) { amendments { id } } b: opportunity(id: $o2) { amendments { id } } }',
      { o1: opportunityId, o2: lost.opportunityId },
    );
    expect(amendments).toEqual({ data: { a: { amendments: [] }, b: { amendments: [] } } });

    // The flow refuses, before storing a run: a draft, and an amendment whose deal left closed-won since.
    const draft = await amendment(opportunityId, { newEndDate: '2027-06-30' }, false);
    const refused = async (amendmentId: string) =>
      (
        await gql(stack.gatewayUrl, APPLY, { input: { amendmentId, idempotencyKey: `k-${amendmentId}` } })
      ).body.errors?.map((e) => [e.extensions?.code, e.extensions?.field]);
    expect(await refused(draft)).toEqual([['INVALID_STATE', 'amendmentId']]);
    const approved = await amendment(opportunityId, { newEndDate: '2027-07-31' });
    const [deal] = await stack.stores.crm.getOpportunities([opportunityId]);
    for (const stage of ['NEGOTIATION', 'CLOSED_LOST'])
      await mutate(
        'mutation($input: UpsertOpportunityInput!) { upsertOpportunity(input: $input) { opportunity { id } } }',
        {
          input: {
            externalId: deal!.externalId,
            accountId: deal!.accountId,
            name: deal!.name,
            stage,
            amount: GBP('240000.00'),
          },
        },
      );
    expect(await refused(approved)).toEqual([['INVALID_STATE', 'amendmentId']]);
    const runs = await stack.stores.ledger.listRuns(
      { first: 1000, afterKey: null },
      { flow: 'applyContractAmendment' },
    );
    expect(runs.nodes.filter((r) => [draft, approved].includes(r.input.amendmentId as string))).toEqual([]);
  });
});

describe('applyContractAmendment trigger', () => {
  it('applies an approved amendment when the CRM shows it, and not while governance switches the trigger off', async () => {
    // Only this trigger on; the poller reads the switches at every look, so the test flips them on this object.
    const governance = loadGovernance();
    for (const flow of Object.keys(governance.triggers) as (keyof typeof governance.triggers)[])
      governance.triggers[flow] = flow === 'applyContractAmendment';
    const stack = await startTestStack({
      workerOptions: { idlePollMs: 20 },
      triggers: { intervalMs: 3_600_000 },
      governance,
    });
    try {
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
      const conversion = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
      expect((await waitForRun(stack, conversion, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
      const create = async (newEndDate: string) => {
        const { body } = await gql(stack.gatewayUrl, AMEND, {
          input: { externalId: `trigger-${process.pid}-${++counter}`, opportunityId, newEndDate },
        });
        const id = body.data!.upsertContractAmendment.amendment.id as string;
        await gql(stack.gatewayUrl, 'mutation($id: ID!) { approveContractAmendment(id: $id) { id } }', { id });
        return id;
      };

      governance.triggers.applyContractAmendment = false;
      const first = await create('2027-05-31');
      expect(await stack.triggers!.pollOnce()).toBe(0);

      governance.triggers.applyContractAmendment = true;
      expect(await stack.triggers!.pollOnce()).toBe(1);
      const [run] = (
        await stack.stores.ledger.listRuns({ first: 10, afterKey: null }, { flow: 'applyContractAmendment' })
      ).nodes;
      expect(run).toMatchObject({ input: { amendmentId: first }, triggeredBy: 'event:contract_amendment.approved' });
      expect((await waitForRun(stack, run!.id, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
      // Applied: the trigger no longer lists it.
      expect(await stack.triggers!.pollOnce()).toBe(0);
      const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
      expect(project!.endDate).toBe('2027-05-31');
    } finally {
      await stack.stop();
    }
  });
});

describe('applyContractAmendment with a worker killed after the PSA write', () => {
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
  });

  it('resumes on another worker and amends the project exactly once', async () => {
    const stack = await startTestStack({ worker: false, seedAccounts: 2 });
    try {
      const env = {
        DATA_DIR: stack.dataDir,
        CRM_URL: stack.urls.crm,
        PSA_URL: stack.urls.psa,
        ERP_URL: stack.urls.erp,
        ...secretEnv(stack.secrets),
        LEASE_MS: '800',
      };
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
      const conversion = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
      const helper = startTsx('test/support/crash-worker.ts', env);
      children.push(helper);
      await waitForOutput(helper, new RegExp(`RUN ${conversion} SUCCEEDED`));
      await helper.stop();

      const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
      const [milestones] = await stack.stores.psa.getMilestonesByProject([project!.id]);
      const { body } = await gql(stack.gatewayUrl, AMEND, {
        input: {
          externalId: `crash-${process.pid}-${++counter}`,
          opportunityId,
          newAmount: GBP('270000.00'),
          addMilestones: [{ name: 'Training', amount: GBP('30000.00'), dueDate: '2027-04-15' }],
        },
      });
      const amendmentId = body.data!.upsertContractAmendment.amendment.id as string;
      await gql(stack.gatewayUrl, 'mutation($id: ID!) { approveContractAmendment(id: $id) { id } }', {
        id: amendmentId,
      });
      const runId = (await gql(stack.gatewayUrl, APPLY, { input: { amendmentId } })).body.data!.applyContractAmendment
        .id as string;

      const doomed = startTsx('test/support/crash-worker.ts', { ...env, CRASH_AT: 'psa.amendProject' });
      children.push(doomed);
      await new Promise<void>((resolve) => doomed.process.once('close', () => resolve()));
      expect([doomed.process.signalCode, doomed.output().includes('CRASH psa.amendProject')]).toEqual([
        'SIGKILL',
        true,
      ]);
      // The PSA has the amendment; the ledger does not know yet.
      const [crashed] = await stack.stores.ledger.getRuns([runId]);
      expect([crashed!.status, crashed!.steps[2]!.status]).toEqual(['RUNNING', 'PENDING']);

      const survivor = startTsx('test/support/crash-worker.ts', env);
      children.push(survivor);
      await waitForOutput(survivor, new RegExp(`RUN ${runId} (SUCCEEDED|EXCEPTION)`));
      await survivor.stop();
      const [run] = await stack.stores.ledger.getRuns([runId]);
      expect([run!.status, run!.steps.map((s) => s.status)]).toEqual(['SUCCEEDED', Array(5).fill('SUCCEEDED')]);
      // The resumed write found the first one: applied once, one Training milestone, budget and contract 270 000.
      expect(run!.steps[2]!.output).toMatchObject({ applied: false, budget: GBP('270000.00') });
      const [after] = await stack.stores.psa.getMilestonesByProject([project!.id]);
      expect(after!.map((m) => [m.name, m.amountMinor])).toEqual([
        ...milestones!.map((m) => [m.name, m.amountMinor]),
        ['Training', 3_000_000],
      ]);
      const [contract] = await stack.stores.erp.getProjectContracts([project!.id]);
      expect([contract!.valueMinor, contract!.schedule.length]).toEqual([27_000_000, 4]);
    } finally {
      await stack.stop();
    }
  });
});

describe('applyContractAmendment for a deal lost mid-flight', () => {
  let stack: Stack;
  /** Called while the ERP amends a project's contract, before it does: "the ERP is slow". */
  const whileErpAmends = new Map<string, () => Promise<void>>();
  beforeAll(async () => {
    stack = await startTestStack({
      workerOptions: { idlePollMs: 20 },
      wrapConnector: (system, connector) =>
        system !== 'erp'
          ? connector
          : (new Proxy(connector as unknown as ErpConnector, {
              get(target, prop, receiver) {
                const value = Reflect.get(target, prop, receiver) as unknown;
                if (prop !== 'amendProjectContract') return value;
                return async (input: Parameters<ErpConnector['amendProjectContract']>[0]) => {
                  await whileErpAmends.get(input.psaProjectId)?.();
                  return target.amendProjectContract(input);
                };
              },
            }) as unknown as typeof connector),
    });
  });
  afterAll(() => stack.stop());

  it('stops with PRECONDITION_LOST and undoes the ERP contract and the PSA project amendment', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const conversion = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    expect((await waitForRun(stack, conversion, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [deal] = await stack.stores.crm.getOpportunities([opportunityId]);
    const before = (await gql(stack.gatewayUrl, END_STATE, { opportunity: opportunityId, project: project!.id })).body;
    const { body } = await gql(stack.gatewayUrl, AMEND, {
      input: {
        externalId: `lost-${process.pid}-${++counter}`,
        opportunityId,
        newAmount: GBP('250000.00'),
        addMilestones: [{ name: 'Extra', amount: GBP('10000.00'), dueDate: '2027-04-01' }],
      },
    });
    const amendmentId = body.data!.upsertContractAmendment.amendment.id as string;
    await gql(stack.gatewayUrl, 'mutation($id: ID!) { approveContractAmendment(id: $id) { id } }', { id: amendmentId });
    whileErpAmends.set(project!.id, async () => {
      for (const stage of ['NEGOTIATION', 'CLOSED_LOST'])
        await gql(
          stack.gatewayUrl,
          'mutation($input: UpsertOpportunityInput!) { upsertOpportunity(input: $input) { opportunity { id } } }',
          {
            input: {
              externalId: deal!.externalId,
              accountId: deal!.accountId,
              name: deal!.name,
              stage,
              amount: GBP('240000.00'),
            },
          },
        );
    });
    const runId = (await gql(stack.gatewayUrl, APPLY, { input: { amendmentId } })).body.data!.applyContractAmendment
      .id as string;
    const end = await waitForRun(stack, runId, ['ABANDONED', 'COMPENSATION_FAILED', 'SUCCEEDED', 'EXCEPTION']);
    expect([end.status, end.steps.map((s) => [s.name, s.status])]).toEqual([
      'ABANDONED',
      [
        ['readAmendment', 'COMPENSATED'],
        ['planProjectChanges', 'COMPENSATED'],
        ['amendPsaProject', 'COMPENSATED'],
        ['amendErpContract', 'COMPENSATED'],
        ['markAmendmentApplied', 'FAILED'],
      ],
    ]);
    expect(end.steps[4]!.error).toMatchObject({
      class: 'PRECONDITION_LOST',
      system: 'crm',
      message: `Contract amendment ${amendmentId} of opportunity '${opportunityId}' (${deal!.name}): the deal left closed-won (it is CLOSED_LOST now) while the amendment was being applied; the run undoes what it wrote, newest first`,
    });
    expect((await gql(stack.gatewayUrl, END_STATE, { opportunity: opportunityId, project: project!.id })).body).toEqual(
      {
        data: {
          ...before.data,
          opportunity: {
            amendments: [{ id: amendmentId, status: 'APPROVED', psaProjectId: null, newAmount: GBP('250000.00') }],
          },
        },
      },
    );
  });
});
