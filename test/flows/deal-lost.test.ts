import type { PsaConnector } from '../../subgraphs/psa/connector/psa-connector';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/*
 * Issue 15, "Why" 3, through the gateway: a deal lost while the PSA creates its project stops the conversion with an
 * exception of its own class (PRECONDITION_LOST), and the run undoes what it created; the CRM refuses to move a won
 * deal straight to lost by upsert, as closeOpportunity does. End state asserted in the CRM, PSA, ERP and ledger.
 */
describe('a deal lost mid-conversion', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  /** Called while the PSA creates a project for the opportunity, before it does: "the PSA is slow". */
  const whilePsaCreates = new Map<string, () => Promise<void>>();
  beforeAll(async () => {
    stack = await startTestStack({
      workerOptions: { idlePollMs: 20 },
      wrapConnector: (system, connector) =>
        system !== 'psa'
          ? connector
          : (new Proxy(connector as unknown as PsaConnector, {
              get(target, prop, receiver) {
                const value = Reflect.get(target, prop, receiver) as unknown;
                if (prop !== 'createProjectFromTemplate') return value;
                return async (input: Parameters<PsaConnector['createProjectFromTemplate']>[0]) => {
                  await whilePsaCreates.get(input.opportunityId ?? '')?.();
                  return target.createProjectFromTemplate(input);
                };
              },
            }) as unknown as typeof connector),
    });
  });
  afterAll(() => stack.stop());

  it('stops the run with PRECONDITION_LOST and undoes the ERP customer and the PSA project; the CRM keeps the deal lost and unlinked', async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const [deal] = await stack.stores.crm.getOpportunities([opportunityId]);
    const upsert = (stage: string) =>
      gql(
        stack.gatewayUrl,
        'mutation($input: UpsertOpportunityInput!) { upsertOpportunity(input: $input) { opportunity { stage } } }',
        {
          input: {
            externalId: deal!.externalId,
            accountId,
            name: deal!.name,
            stage,
            amount: { amount: '240000.00', currency: 'GBP' },
            closeDate: deal!.closeDate,
            servicePackage: deal!.servicePackage,
            billingModel: deal!.billingModel,
            deliveryRegion: deal!.deliveryRegion,
            expectedStartDate: deal!.expectedStartDate,
          },
        },
      );
    const refusals: unknown[] = [];
    whilePsaCreates.set(opportunityId, async () => {
      // Straight from won to lost by upsert is refused, as closeOpportunity refuses it; reopening, then losing, is not.
      refusals.push((await upsert('CLOSED_LOST')).body);
      expect((await upsert('NEGOTIATION')).body).toEqual({
        data: { upsertOpportunity: { opportunity: { stage: 'NEGOTIATION' } } },
      });
      const lost = await gql(
        stack.gatewayUrl,
        'mutation($id: ID!) { closeOpportunity(id: $id, outcome: LOST) { stage } }',
        {
          id: opportunityId,
        },
      );
      expect(lost.body).toEqual({ data: { closeOpportunity: { stage: 'CLOSED_LOST' } } });
    });

    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const end = await waitForRun(stack, runId, ['ABANDONED', 'COMPENSATION_FAILED', 'SUCCEEDED', 'EXCEPTION']);
    expect(refusals).toEqual([
      {
        data: null,
        errors: [
          expect.objectContaining({
            message: `Opportunity '${opportunityId}' is already CLOSED_WON; it cannot be closed LOST`,
            extensions: expect.objectContaining({ code: 'INVALID_STATE' }),
          }),
        ],
      },
    ]);
    const message = `Opportunity '${opportunityId}' (${deal!.name}) left closed-won (it is CLOSED_LOST now) while it was being converted; the run undoes what it created, newest first`;
    expect([end.status, end.steps.map((s) => [s.name, s.status])]).toEqual([
      'ABANDONED',
      [
        ['validateOpportunity', 'COMPENSATED'],
        ['ensureErpCustomer', 'COMPENSATED'],
        ['createPsaProject', 'COMPENSATED'],
        ['pushProjectDimensions', 'FAILED'],
        ['linkBack', 'PENDING'],
      ],
    ]);
    expect(end.steps[3]!.error).toMatchObject({ class: 'PRECONDITION_LOST', system: 'crm', message });
    const projectId = (end.steps[2]!.output as { projectId: string }).projectId;

    // The exception stays open for a person to see, in its own class.
    const { body } = await gql(
      stack.gatewayUrl,
      '{ exceptions(filter: { class: PRECONDITION_LOST }) { nodes { run { id status } step class system message status } } }',
    );
    expect(body.data!.exceptions.nodes).toEqual([
      {
        run: { id: runId, status: 'ABANDONED' },
        step: 'pushProjectDimensions',
        class: 'PRECONDITION_LOST',
        system: 'crm',
        message,
        status: 'OPEN',
      },
    ]);
    // CRM: lost and unlinked. PSA: no project. ERP: no customer, no dimensions.
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      stage: 'CLOSED_LOST',
      psaProjectId: null,
      erpCustomerId: null,
    });
    expect(await stack.stores.psa.getProjects([projectId])).toEqual([null]);
    expect(await stack.stores.psa.getProjectsByOpportunity([opportunityId])).toEqual([null]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId])).toEqual([null]);
    expect((await stack.stores.ledger.getAuditByRun([runId]))[0]!.map((a) => a.action)).toEqual([
      'RUN_CREATED',
      'STEP_SUCCEEDED',
      'STEP_SUCCEEDED',
      'STEP_SUCCEEDED',
      'EXCEPTION_RAISED',
      'RUN_COMPENSATION_STARTED',
      'STEP_COMPENSATED',
      'STEP_COMPENSATED',
      'STEP_COMPENSATED',
      'RUN_ABANDONED',
    ]);
  });
});
