import { createSystemClient, type SystemClient } from './graphql-client';
import type { CrmApi, ErpApi, OpportunityForConversion, PsaApi, Systems } from './systems';

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
  };
}
