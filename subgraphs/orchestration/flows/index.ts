import { billApprovedTime } from './bill-approved-time';
import { convertOpportunityToProject } from './convert-opportunity-to-project';
import type { Flow } from './flow';

/** Every flow the orchestration runs. */
export const FLOWS: readonly Flow<any>[] = [convertOpportunityToProject, billApprovedTime];
