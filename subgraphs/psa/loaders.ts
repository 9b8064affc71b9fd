import DataLoader from 'dataloader';
import type {
  MilestoneRecord,
  ProjectFinancialsRecord,
  ProjectRecord,
  ProjectTemplateRecord,
  PsaConnector,
  RateCardRecord,
  ResourceRecord,
} from './connector/psa-connector';
import { seesAccount, type AccountScope } from '../../lib/auth/account-scope';

/**
 * The PSA's per-request loaders: one connector call per batch, whatever the number of keys. Projects, milestones and
 * financials outside the caller's account scope load as unknown IDs do (null, or an empty list).
 */
export interface PsaLoaders {
  project: DataLoader<string, ProjectRecord | null>;
  projectsByAccount: DataLoader<string, ProjectRecord[]>;
  projectByOpportunity: DataLoader<string, ProjectRecord | null>;
  milestonesByProject: DataLoader<string, MilestoneRecord[]>;
  milestone: DataLoader<string, MilestoneRecord | null>;
  /** Keyed by project ID. */
  financials: DataLoader<string, ProjectFinancialsRecord | null>;
  rateCard: DataLoader<string, RateCardRecord | null>;
  template: DataLoader<string, ProjectTemplateRecord | null>;
  resource: DataLoader<string, ResourceRecord | null>;
}

/**
 * Builds a fresh loader set; call once per request so nothing is cached across requests. `scope` is the CRM accounts
 * the caller may see (a portal user's), null for every account.
 * @default scope null
 */
export function createLoaders(psa: PsaConnector, scope: AccountScope = null): PsaLoaders {
  const visible = <T extends { accountId: string }>(record: T | null): T | null =>
    record !== null && seesAccount(scope, record.accountId) ? record : null;
  const project = new DataLoader<string, ProjectRecord | null>(async (ids) =>
    (await psa.getProjects(ids)).map(visible),
  );
  // Whether the caller may see each project, through the project loader (so a project read once is not read again).
  const projectsVisible = async (ids: readonly string[]): Promise<boolean[]> =>
    scope === null
      ? ids.map(() => true)
      : (await Promise.all(ids.map((id) => project.load(id)))).map((p) => p !== null);
  return {
    project,
    projectsByAccount: new DataLoader(async (accountIds) =>
      (await psa.getProjectsByAccount(accountIds)).map((list, i) => (seesAccount(scope, accountIds[i]!) ? list : [])),
    ),
    projectByOpportunity: new DataLoader(async (ids) => (await psa.getProjectsByOpportunity(ids)).map(visible)),
    milestonesByProject: new DataLoader(async (projectIds) => {
      const [lists, seen] = await Promise.all([psa.getMilestonesByProject(projectIds), projectsVisible(projectIds)]);
      return lists.map((list, i) => (seen[i] ? list : []));
    }),
    milestone: new DataLoader(async (ids) => {
      const milestones = await psa.getMilestones(ids);
      if (scope === null) return milestones;
      const projects = await Promise.all(milestones.map((m) => (m === null ? null : project.load(m.projectId))));
      return milestones.map((m, i) => (projects[i] ? m : null));
    }),
    financials: new DataLoader(async (projectIds) => {
      const [records, seen] = await Promise.all([psa.getProjectFinancials(projectIds), projectsVisible(projectIds)]);
      return records.map((r, i) => (seen[i] ? r : null));
    }),
    rateCard: new DataLoader((ids) => psa.getRateCards(ids)),
    template: new DataLoader((ids) => psa.getTemplates(ids)),
    resource: new DataLoader((ids) => psa.getResources(ids)),
  };
}
