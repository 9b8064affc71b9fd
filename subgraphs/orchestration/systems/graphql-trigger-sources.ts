import { periodEnd, previousPeriod } from '../flows/invoice-billed-work';
import type { TriggerPage, TriggerSources } from '../engine/trigger-sources';
import { createSystemClient, type SystemTargets } from './graphql-client';

/** Project statuses in which a retainer is no longer charged. */
const ENDED_PROJECT: ReadonlySet<string> = new Set(['COMPLETED', 'CANCELLED']);

/** A system's GraphQL page, as the lists the poller reads return it. */
type Page = {
  nodes: { id: string; psaProjectId?: string | null; billingModel?: string }[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
};

const toTriggerPage = (page: Page, keep: (node: Page['nodes'][number]) => boolean = () => true): TriggerPage => ({
  ids: page.nodes.filter(keep).map((n) => n.id),
  endCursor: page.pageInfo.endCursor,
  hasNextPage: page.pageInfo.hasNextPage,
});

/** {@link TriggerSources} over the system subgraphs' GraphQL endpoints, each request signed with that subgraph's secret. */
export function createGraphQLTriggerSources(targets: SystemTargets): TriggerSources {
  const crm = createSystemClient('crm', targets.crm);
  const psa = createSystemClient('psa', targets.psa);
  const erp = createSystemClient('erp', targets.erp);
  return {
    async unconvertedWonOpportunities(after) {
      const data = await crm.request<{ opportunities: Page }>(
        `query WonDeals($after: String) { opportunities(first: 500, after: $after, filter: { stage: CLOSED_WON }) { nodes { id psaProjectId } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      return toTriggerPage(data.opportunities, (n) => !n.psaProjectId);
    },
    async projectsWithBillableWork(after, billingModels) {
      const data = await psa.request<{ projectsWithBillableWork: Page }>(
        `query ReadyToBill($after: String) { projectsWithBillableWork(first: 500, after: $after) { nodes { id billingModel } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      return toTriggerPage(
        data.projectsWithBillableWork,
        (n) => !billingModels || billingModels.includes(n.billingModel!),
      );
    },
    async milestonesReadyToInvoice(after) {
      // The billing models billMilestone invoices; a completed milestone of another project is not a billing event.
      const data = await psa.request<{ milestones: Page }>(
        `query ReadyToInvoice($after: String) { milestones(first: 500, after: $after, filter: { status: COMPLETED, billingModels: [FIXED_FEE, MILESTONE] }) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      return toTriggerPage(data.milestones);
    },
    async invoicesChanged(after) {
      const data = await erp.request<{ invoicesChangedSince: Page }>(
        `query InvoicesChanged($after: String) { invoicesChangedSince(first: 500, after: $after) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      return toTriggerPage(data.invoicesChangedSince);
    },
    async invoicesPastDue(after) {
      const data = await erp.request<{ invoices: Page }>(
        `query PastDue($after: String) { invoices(first: 500, after: $after, filter: { status: POSTED, overdue: true }) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      return toTriggerPage(data.invoices);
    },
    async accountsChanged(after) {
      const data = await crm.request<{ accountsChangedSince: Page }>(
        `query AccountsChanged($after: String) { accountsChangedSince(first: 500, after: $after) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      const page = data.accountsChangedSince;
      if (page.nodes.length === 0) return toTriggerPage(page);
      // The ERP's entity endpoint answers for the whole page in one request and one batched connector read.
      const customers = await erp.request<{ _entities: ({ id: string; customer: { id: string } | null } | null)[] }>(
        `query AccountCustomers($representations: [_Any!]!) { _entities(representations: $representations) { ... on Account { id customer { id } } } }`,
        { representations: page.nodes.map((n) => ({ __typename: 'Account', id: n.id })) },
      );
      const withCustomer = new Set(customers._entities.filter((e) => e?.customer).map((e) => e!.id));
      return toTriggerPage(page, (n) => withCustomer.has(n.id));
    },
    async billingPeriodsDue(after, due) {
      const data = await psa.request<{
        projects: {
          nodes: { id: string; billingModel: string; status: string }[];
          pageInfo: Page['pageInfo'];
        };
      }>(
        `query InvoiceDue($after: String) { projects(first: 500, after: $after) { nodes { id billingModel status } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      const page = data.projects;
      const candidates = page.nodes.filter(
        (n) =>
          due.inArrears.includes(n.billingModel) ||
          (due.inAdvance.includes(n.billingModel) && !ENDED_PROJECT.has(n.status)),
      );
      const thisPeriod = due.today.slice(0, 7);
      const lastPeriod = previousPeriod(thisPeriod);
      const cutOff = periodEnd(lastPeriod);
      const ids: string[] = [];
      if (candidates.length > 0) {
        // One ERP request for the page: each project's billing lines and retainer.
        const erpView = await erp.request<{
          _entities: ({
            id: string;
            billingLines: { postingDate: string; invoice: { id: string } | null }[] | null;
            retainer: { fee: { amount: string } } | null;
          } | null)[];
        }>(
          `query InvoiceDueLines($representations: [_Any!]!) { _entities(representations: $representations) {
            ... on Project { id billingLines { postingDate invoice { id } } retainer { fee { amount } } } } }`,
          { representations: candidates.map((n) => ({ __typename: 'Project', id: n.id })) },
        );
        candidates.forEach((project, i) => {
          const view = erpView._entities[i];
          if (!view) return;
          if (due.inArrears.includes(project.billingModel)) {
            if ((view.billingLines ?? []).some((l) => l.invoice === null && l.postingDate <= cutOff))
              ids.push(`${project.id}|${lastPeriod}`);
          } else if (view.retainer) ids.push(`${project.id}|${thisPeriod}`);
        });
      }
      return { ids, endCursor: page.pageInfo.endCursor, hasNextPage: page.pageInfo.hasNextPage };
    },
    async approvedContractAmendments(after) {
      const data = await crm.request<{ contractAmendments: Page }>(
        `query ApprovedAmendments($after: String) { contractAmendments(first: 500, after: $after, filter: { status: APPROVED }) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      return toTriggerPage(data.contractAmendments);
    },
  };
}
