import DataLoader from 'dataloader';
import type { MilestoneRecord, ProjectFinancialsRecord, ProjectRecord, ProjectTemplateRecord, PsaConnector, RateCardRecord, ResourceRecord } from './connector/psa-connector';

/** The PSA's per-request loaders: one connector call per batch, whatever the number of keys. */
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

/** Builds a fresh loader set; call once per request so nothing is cached across requests. */
export function createLoaders(psa: PsaConnector): PsaLoaders {
  return {
    project: new DataLoader((ids) => psa.getProjects(ids)),
    projectsByAccount: new DataLoader((ids) => psa.getProjectsByAccount(ids)),
    projectByOpportunity: new DataLoader((ids) => psa.getProjectsByOpportunity(ids)),
    milestonesByProject: new DataLoader((ids) => psa.getMilestonesByProject(ids)),
    milestone: new DataLoader((ids) => psa.getMilestones(ids)),
    financials: new DataLoader((ids) => psa.getProjectFinancials(ids)),
    rateCard: new DataLoader((ids) => psa.getRateCards(ids)),
    template: new DataLoader((ids) => psa.getTemplates(ids)),
    resource: new DataLoader((ids) => psa.getResources(ids)),
  };
}
