import { createSystemClient, type SystemClient } from './graphql-client';
import type { BillableWork, CrmApi, ErpApi, OpportunityForConversion, PsaApi, Systems } from './systems';

/** {@link Systems} over GraphQL, calling each system subgraph at its own endpoint (never its store). */
export function createGraphQLSystems(urls: { crm: string; psa: string; erp: string }): Systems {
  return { crm: crmApi(createSystemClient('crm', urls.crm)), psa: psaApi(createSystemClient('psa', urls.psa)), erp: erpApi(createSystemClient('erp', urls.erp)) };
}

function crmApi(client: SystemClient): CrmApi {
  return {
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
    async linkOpportunity(id, links, cid) {
      await client.request(`mutation Link($input: LinkOpportunityInput!) { linkOpportunity(input: $input) { id } }`, { input: { opportunityId: id, ...links } }, cid);
    },
    async unlinkOpportunity(id, cid) {
      await client.request(`mutation Unlink($id: ID!) { unlinkOpportunity(id: $id) { id } }`, { id }, cid);
    },
  };
}

function psaApi(client: SystemClient): PsaApi {
  return {
    async createProjectFromTemplate(input, cid) {
      const data = await client.request<{ createProjectFromTemplate: { project: { id: string; code: string }; created: boolean } }>(
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
          project { id account { id } }
          timeEntries { timeEntry { id date hours role resource { name } } rate { amount currency } amount { amount currency } }
          expenses { id date category amount { amount currency } }
          hasMore } }`,
        { projectId, first, until },
        cid,
      );
      return data.billableWork;
    },
    async markTimeEntriesBilled(input, cid) {
      await client.request(`mutation MarkBilled($input: MarkTimeEntriesBilledInput!) { markTimeEntriesBilled(input: $input) { timeEntries { id } } }`, { input }, cid);
    },
    async listProjectsWithBillableWork(first, after, until, cid) {
      const data = await client.request<{ projectsWithBillableWork: { nodes: { id: string }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } }>(
        `query ReadyToBill($first: Int, $after: String, $until: String) { projectsWithBillableWork(first: $first, after: $after, until: $until) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { first, after, until },
        cid,
      );
      const page = data.projectsWithBillableWork;
      return { ids: page.nodes.map((n) => n.id), endCursor: page.pageInfo.endCursor, hasNextPage: page.pageInfo.hasNextPage };
    },
  };
}

function erpApi(client: SystemClient): ErpApi {
  return {
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
    async upsertProjectDimensions(input, cid) {
      const data = await client.request<{ upsertProjectDimensions: { created: boolean } }>(
        `mutation Dimensions($input: UpsertProjectDimensionsInput!) { upsertProjectDimensions(input: $input) { created } }`,
        { input },
        cid,
      );
      return data.upsertProjectDimensions;
    },
    async deleteProjectDimensions(projectId, cid) {
      await client.request(`mutation DeleteDimensions($projectId: ID!) { deleteProjectDimensions(projectId: $projectId) { deleted } }`, { projectId }, cid);
    },
    async postBillingLines(lines, cid) {
      const data = await client.request<{ postBillingLines: { id: string; externalId: string; amount: { amount: string; currency: string } }[] }>(
        `mutation PostLines($input: PostBillingLinesInput!) { postBillingLines(input: $input) { id externalId amount { amount currency } } }`,
        { input: { lines } },
        cid,
      );
      return data.postBillingLines;
    },
  };
}
