import { crmAmendmentApi, erpAmendmentApi, psaAmendmentApi } from './amendment-apis';
import { createSystemClient, type SystemClient, type SystemTargets } from './graphql-client';
import type { Money } from '../../../lib/money';
import { SystemError } from './system-error';
import type {
  AccountForSync,
  BillableWork,
  BillingLineView,
  CrmApi,
  CustomerForSync,
  ErpApi,
  ErpReferenceData,
  InvoiceStatusView,
  MilestoneForBilling,
  OpportunityForConversion,
  PsaApi,
  Systems,
} from './systems';

/** Invoices read per page when a flow totals an account's or a project's invoices. */
const INVOICE_PAGE_SIZE = 1000;

const INVOICE_STATUS_FIELDS = `id number status overdue dueDate total { amount currency } balance { amount currency } customer { id externalCrmId } project { id }`;

/**
 * {@link Systems} over GraphQL, calling each system subgraph at its own endpoint (never its store), every request signed
 * with that subgraph's secret as the orchestration's service identity.
 */
export function createGraphQLSystems(targets: SystemTargets): Systems {
  return {
    crm: crmApi(createSystemClient('crm', targets.crm)),
    psa: psaApi(createSystemClient('psa', targets.psa)),
    erp: erpApi(createSystemClient('erp', targets.erp)),
  };
}

function crmApi(client: SystemClient): CrmApi {
  return {
    ...crmAmendmentApi(client),
    async getOpportunity(id, cid) {
      const data = await client.request<{ opportunity: OpportunityForConversion | null }>(
        `query ConversionOpportunity($id: ID!) { opportunity(id: $id) {
          id name stage amount { amount currency } closeDate servicePackage billingModel deliveryRegion expectedStartDate
          psaProjectId erpCustomerId account { id name } } }`,
        { id },
        cid,
      );
      return data.opportunity;
    },
    async getAccount(id, cid) {
      const data = await client.request<{ account: AccountForSync | null }>(
        `query SyncAccount($id: ID!) { account(id: $id) { id name legalName billingCountry billingAddress
          billingContact { firstName lastName email } parentAccount { id } paymentTerms } }`,
        { id },
        cid,
      );
      return data.account;
    },
    async recordAccountFinancials(input, cid) {
      const data = await client.request<{ recordAccountFinancials: { changed: boolean } }>(
        `mutation AccountFinancials($input: RecordAccountFinancialsInput!) { recordAccountFinancials(input: $input) { changed } }`,
        { input },
        cid,
      );
      return data.recordAccountFinancials;
    },
    async linkOpportunity(id, links, cid) {
      await client.request(
        `mutation Link($input: LinkOpportunityInput!) { linkOpportunity(input: $input) { id } }`,
        { input: { opportunityId: id, ...links } },
        cid,
      );
    },
    async unlinkOpportunity(id, cid) {
      await client.request(`mutation Unlink($id: ID!) { unlinkOpportunity(id: $id) { id } }`, { id }, cid);
    },
  };
}

function psaApi(client: SystemClient): PsaApi {
  return {
    ...psaAmendmentApi(client),
    async createProjectFromTemplate(input, cid) {
      const data = await client.request<{
        createProjectFromTemplate: { project: { id: string; code: string }; created: boolean };
      }>(
        `mutation CreateProject($input: CreateProjectFromTemplateInput!) { createProjectFromTemplate(input: $input) { project { id code } created } }`,
        { input },
        cid,
      );
      return { ...data.createProjectFromTemplate.project, created: data.createProjectFromTemplate.created };
    },
    async deleteProject(id, cid) {
      await client.request(`mutation DeleteProject($id: ID!) { deleteProject(id: $id) { deleted } }`, { id }, cid);
    },
    async getBillableWork(projectId, first, until, cid) {
      const data = await client.request<{ billableWork: BillableWork }>(
        `query BillableWork($projectId: ID!, $first: Int, $until: String) { billableWork(projectId: $projectId, first: $first, until: $until) {
          project { id billingModel account { id } rateCard { rates { role rate { amount currency } } } }
          timeEntries { timeEntry { id date hours role resource { name } } rate { amount currency } amount { amount currency } }
          expenses { id date category amount { amount currency } }
          hasMore } }`,
        { projectId, first, until },
        cid,
      );
      return data.billableWork;
    },
    async markTimeEntriesBilled(input, cid) {
      await client.request(
        `mutation MarkBilled($input: MarkTimeEntriesBilledInput!) { markTimeEntriesBilled(input: $input) { timeEntries { id } } }`,
        { input },
        cid,
      );
    },
    async getMilestone(id, cid) {
      const data = await client.request<{ milestone: MilestoneForBilling | null }>(
        `query BillingMilestone($id: ID!) { milestone(id: $id) {
          id name status amount { amount currency } invoiceId project { id code name billingModel account { id } } } }`,
        { id },
        cid,
      );
      return data.milestone;
    },
    async markMilestoneInvoiced(id, invoiceId, cid) {
      const data = await client.request<{ markMilestoneInvoiced: { status: string; invoiceId: string | null } }>(
        `mutation MarkInvoiced($id: ID!, $invoiceId: ID!) { markMilestoneInvoiced(id: $id, invoiceId: $invoiceId) { status invoiceId } }`,
        { id, invoiceId },
        cid,
      );
      return data.markMilestoneInvoiced;
    },
    async recordProjectFinancials(input, cid) {
      const data = await client.request<{ recordProjectFinancials: { changed: boolean } }>(
        `mutation ProjectFinancials($input: RecordProjectFinancialsInput!) { recordProjectFinancials(input: $input) { changed } }`,
        { input },
        cid,
      );
      return data.recordProjectFinancials;
    },
  };
}

function erpApi(client: SystemClient): ErpApi {
  return {
    ...erpAmendmentApi(client),
    async getReferenceData(periods, cid) {
      return client.request<ErpReferenceData>(
        `query ReferenceData($periods: [String!]!) { legalEntities { code } taxJurisdictions { code }
          accountingPeriods(periods: $periods) { period status } }`,
        { periods },
        cid,
      );
    },
    async upsertCustomer(input, cid) {
      const data = await client.request<{ upsertCustomer: { customer: { id: string }; created: boolean } }>(
        `mutation UpsertCustomer($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { customer { id } created } }`,
        { input },
        cid,
      );
      return { id: data.upsertCustomer.customer.id, created: data.upsertCustomer.created };
    },
    async deleteCustomer(id, cid) {
      await client.request(`mutation DeleteCustomer($id: ID!) { deleteCustomer(id: $id) { deleted } }`, { id }, cid);
    },
    async getCustomerByAccount(accountId, cid) {
      const data = await client.request<{ customerByAccount: CustomerForSync | null }>(
        `query AccountCustomer($accountId: ID!) { customerByAccount(accountId: $accountId) { id customerNumber name currency externalCrmId
          legalEntity { code } taxJurisdiction { code } paymentTerms legalName billingCountry billingAddress billingContact
          parentCustomer { id externalCrmId } creditHold { reason since } } }`,
        { accountId },
        cid,
      );
      return data.customerByAccount;
    },
    async updateCustomerFields(input, cid) {
      const data = await client.request<{ updateCustomerFields: { changed: boolean } }>(
        `mutation CustomerFields($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) { changed } }`,
        { input: { id: input.id, ...input.set, expected: input.expected } },
        cid,
      );
      return data.updateCustomerFields;
    },
    async postInvoice(input, cid) {
      const data = await client.request<{
        postInvoice: {
          invoice: { id: string; number: string; total: { amount: string; currency: string } };
          created: boolean;
        };
      }>(
        `mutation PostInvoice($input: PostInvoiceInput!) { postInvoice(input: $input) { invoice { id number total { amount currency } } created } }`,
        { input },
        cid,
      );
      return { ...data.postInvoice.invoice, created: data.postInvoice.created };
    },
    async getInvoice(id, cid) {
      const data = await client.request<{ invoice: InvoiceStatusView | null }>(
        `query InvoiceStatus($id: ID!) { invoice(id: $id) { ${INVOICE_STATUS_FIELDS} } }`,
        { id },
        cid,
      );
      return data.invoice;
    },
    async markInvoiceOverdue(id, cid) {
      const data = await client.request<{ markInvoiceOverdue: { invoice: InvoiceStatusView; changed: boolean } }>(
        `mutation MarkOverdue($id: ID!) { markInvoiceOverdue(invoiceId: $id) { invoice { ${INVOICE_STATUS_FIELDS} } changed } }`,
        { id },
        cid,
      );
      return data.markInvoiceOverdue;
    },
    async listInvoices(filter, cid) {
      const invoices: InvoiceStatusView[] = [];
      let after: string | null = null;
      for (;;) {
        const data: {
          invoices: { nodes: InvoiceStatusView[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
        } = await client.request(
          `query Invoices($first: Int, $after: String, $filter: InvoiceFilter) { invoices(first: $first, after: $after, filter: $filter) {
            nodes { ${INVOICE_STATUS_FIELDS} } pageInfo { endCursor hasNextPage } } }`,
          { first: INVOICE_PAGE_SIZE, after, filter },
          cid,
        );
        invoices.push(...data.invoices.nodes);
        if (!data.invoices.pageInfo.hasNextPage) return invoices;
        after = data.invoices.pageInfo.endCursor;
      }
    },
    async upsertProjectDimensions(input, cid) {
      const data = await client.request<{ upsertProjectDimensions: { created: boolean } }>(
        `mutation Dimensions($input: UpsertProjectDimensionsInput!) { upsertProjectDimensions(input: $input) { created } }`,
        { input },
        cid,
      );
      return data.upsertProjectDimensions;
    },
    async deleteProjectDimensions(projectId, cid) {
      await client.request(
        `mutation DeleteDimensions($projectId: ID!) { deleteProjectDimensions(projectId: $projectId) { deleted } }`,
        { projectId },
        cid,
      );
    },
    async getBillingLines(projectId, cid) {
      const data = await client.request<{ _entities: ({ billingLines: BillingLineView[] | null } | null)[] }>(
        `query ProjectBillingLines($representations: [_Any!]!) { _entities(representations: $representations) {
          ... on Project { billingLines { id postingDate amount { amount currency } invoice { id externalId } } } } }`,
        { representations: [{ __typename: 'Project', id: projectId }] },
        cid,
      );
      const lines = data._entities[0]?.billingLines;
      if (!lines)
        throw new SystemError('CONNECTION', `ERP did not return the billing lines of project ${projectId}`, 'erp');
      return lines;
    },
    async getRetainerFee(projectId, cid) {
      const data = await client.request<{ _entities: ({ retainer: { fee: Money } | null } | null)[] }>(
        `query ProjectRetainer($representations: [_Any!]!) { _entities(representations: $representations) {
          ... on Project { retainer { fee { amount currency } } } } }`,
        { representations: [{ __typename: 'Project', id: projectId }] },
        cid,
      );
      return data._entities[0]?.retainer?.fee ?? null;
    },
    async postBillingLines(lines, cid) {
      const data = await client.request<{
        postBillingLines: { id: string; externalId: string; amount: { amount: string; currency: string } }[];
      }>(
        `mutation PostLines($input: PostBillingLinesInput!) { postBillingLines(input: $input) { id externalId amount { amount currency } } }`,
        { input: { lines } },
        cid,
      );
      return data.postBillingLines;
    },
  };
}
