import type { Money } from '../../../lib/money';
import type { SystemClient } from './graphql-client';

/** A CRM contract amendment as `applyContractAmendment` reads it, with the deal it amends. */
export interface AmendmentForApply {
  id: string;
  status: 'DRAFT' | 'APPROVED' | 'APPLIED';
  reason: string | null;
  newAmount: Money | null;
  newEndDate: string | null;
  addMilestones: { name: string; amount: Money; dueDate: string }[];
  removeMilestoneIds: string[];
  changeMilestones: { milestoneId: string; amount: Money | null; dueDate: string | null }[];
  psaProjectId: string | null;
  opportunity: { id: string; name: string; stage: string; psaProjectId: string | null; account: { id: string } };
}

/** A PSA project with its milestones, as an amendment is planned against it. */
export interface ProjectForAmendment {
  id: string;
  code: string;
  name: string;
  billingModel: string;
  budget: Money;
  endDate: string | null;
  milestones: {
    id: string;
    name: string;
    dueDate: string;
    amount: Money;
    status: 'PLANNED' | 'COMPLETED' | 'INVOICED';
    invoiceId: string | null;
  }[];
}

/** The project amendment the PSA is asked to apply; amounts in the project's currency. */
export interface ProjectAmendmentInput {
  externalId: string;
  projectId: string;
  budget: Money | null;
  endDate: string | null;
  addMilestones: { name: string; amount: Money; dueDate: string }[];
  removeMilestoneIds: string[];
  changeMilestones: { milestoneId: string; amount: Money | null; dueDate: string | null }[];
}

/** The contract state the ERP is asked to hold for an amendment. */
export interface ContractAmendmentInput {
  externalId: string;
  projectId: string;
  value: Money;
  endDate: string | null;
  billingSchedule: { milestoneId: string; description: string; dueDate: string; amount: Money }[];
}

/** The CRM's contract amendment commands the flows use. Every method may throw SystemError. */
export interface CrmAmendmentApi {
  getContractAmendment(id: string, correlationId: string): Promise<AmendmentForApply | null>;
  /** APPROVED → APPLIED to the project; idempotent. */
  markContractAmendmentApplied(id: string, psaProjectId: string, correlationId: string): Promise<void>;
  /** APPLIED → APPROVED (compensation); idempotent. */
  unmarkContractAmendmentApplied(id: string, correlationId: string): Promise<void>;
}

/** The PSA's project amendment commands the flows use. Every method may throw SystemError. */
export interface PsaAmendmentApi {
  getProjectForAmendment(id: string, correlationId: string): Promise<ProjectForAmendment | null>;
  /** Whether the PSA carries the amendment with this external ID now (APPLIED), once carried it (REVERTED), or never (null). */
  getProjectAmendmentStatus(externalId: string, correlationId: string): Promise<'APPLIED' | 'REVERTED' | null>;
  /** Idempotent by `externalId`: a repeat reports `applied: false` and the project as it stands. */
  amendProject(
    input: ProjectAmendmentInput,
    correlationId: string,
  ): Promise<{ applied: boolean; addedMilestoneIds: string[]; project: ProjectForAmendment }>;
  revertProjectAmendment(externalId: string, correlationId: string): Promise<{ reverted: boolean }>;
}

/** The ERP's project contract commands the flows use. Every method may throw SystemError. */
export interface ErpAmendmentApi {
  /** Idempotent by `externalId`. */
  amendProjectContract(input: ContractAmendmentInput, correlationId: string): Promise<{ applied: boolean }>;
  revertProjectContractAmendment(externalId: string, correlationId: string): Promise<{ reverted: boolean }>;
}

const MONEY = 'amount currency';
const PROJECT_FIELDS = `id code name billingModel budget { ${MONEY} } endDate
  milestones { id name dueDate amount { ${MONEY} } status invoiceId }`;

/** {@link CrmAmendmentApi} over the CRM subgraph. */
export function crmAmendmentApi(client: SystemClient): CrmAmendmentApi {
  return {
    async getContractAmendment(id, cid) {
      const data = await client.request<{ contractAmendment: AmendmentForApply | null }>(
        `query Amendment($id: ID!) { contractAmendment(id: $id) {
          id status reason newAmount { ${MONEY} } newEndDate addMilestones { name amount { ${MONEY} } dueDate }
          removeMilestoneIds changeMilestones { milestoneId amount { ${MONEY} } dueDate } psaProjectId
          opportunity { id name stage psaProjectId account { id } } } }`,
        { id },
        cid,
      );
      return data.contractAmendment;
    },
    async markContractAmendmentApplied(id, psaProjectId, cid) {
      await client.request(
        `mutation AmendmentApplied($id: ID!, $psaProjectId: ID!) { markContractAmendmentApplied(id: $id, psaProjectId: $psaProjectId) { id } }`,
        { id, psaProjectId },
        cid,
      );
    },
    async unmarkContractAmendmentApplied(id, cid) {
      await client.request(
        `mutation AmendmentUnapplied($id: ID!) { unmarkContractAmendmentApplied(id: $id) { id } }`,
        { id },
        cid,
      );
    },
  };
}

/** {@link PsaAmendmentApi} over the PSA subgraph. */
export function psaAmendmentApi(client: SystemClient): PsaAmendmentApi {
  return {
    async getProjectForAmendment(id, cid) {
      const data = await client.request<{ project: ProjectForAmendment | null }>(
        `query AmendedProject($id: ID!) { project(id: $id) { ${PROJECT_FIELDS} } }`,
        { id },
        cid,
      );
      return data.project;
    },
    async getProjectAmendmentStatus(externalId, cid) {
      const data = await client.request<{ projectAmendment: { status: 'APPLIED' | 'REVERTED' } | null }>(
        `query ProjectAmendment($externalId: String!) { projectAmendment(externalId: $externalId) { status } }`,
        { externalId },
        cid,
      );
      return data.projectAmendment?.status ?? null;
    },
    async amendProject(input, cid) {
      const data = await client.request<{
        amendProject: { applied: boolean; addedMilestones: { id: string }[]; project: ProjectForAmendment };
      }>(
        `mutation AmendProject($input: AmendProjectInput!) { amendProject(input: $input) {
          applied addedMilestones { id } project { ${PROJECT_FIELDS} } } }`,
        {
          input: {
            externalId: input.externalId,
            projectId: input.projectId,
            budget: input.budget,
            endDate: input.endDate,
            addMilestones: input.addMilestones,
            removeMilestoneIds: input.removeMilestoneIds,
            changeMilestones: input.changeMilestones,
          },
        },
        cid,
      );
      const { applied, addedMilestones, project } = data.amendProject;
      return { applied, addedMilestoneIds: addedMilestones.map((m) => m.id), project };
    },
    async revertProjectAmendment(externalId, cid) {
      const data = await client.request<{ revertProjectAmendment: { reverted: boolean } }>(
        `mutation RevertAmendment($externalId: String!) { revertProjectAmendment(externalId: $externalId) { reverted } }`,
        { externalId },
        cid,
      );
      return data.revertProjectAmendment;
    },
  };
}

/** {@link ErpAmendmentApi} over the ERP subgraph. */
export function erpAmendmentApi(client: SystemClient): ErpAmendmentApi {
  return {
    async amendProjectContract(input, cid) {
      const data = await client.request<{ amendProjectContract: { applied: boolean } }>(
        `mutation AmendContract($input: AmendProjectContractInput!) { amendProjectContract(input: $input) { applied } }`,
        { input },
        cid,
      );
      return data.amendProjectContract;
    },
    async revertProjectContractAmendment(externalId, cid) {
      const data = await client.request<{ revertProjectContractAmendment: { reverted: boolean } }>(
        `mutation RevertContract($externalId: String!) { revertProjectContractAmendment(externalId: $externalId) { reverted } }`,
        { externalId },
        cid,
      );
      return data.revertProjectContractAmendment;
    },
  };
}
