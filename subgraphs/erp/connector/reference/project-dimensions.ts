import { MeridianError } from '../../../../lib/errors';

/** The currency an ERP project bills in: its customer's, found through the project's financial dimensions. */
export const PROJECT_CURRENCY_SQL =
  'SELECT c.currency FROM project_dimensions d JOIN customers c ON c.id = d.customer_id WHERE d.psa_project_id = ?';

/** The refusal of a write about a PSA project whose financial dimensions the ERP does not hold yet. */
export function noProjectDimensions(psaProjectId: string, field = 'projectId'): MeridianError {
  return new MeridianError('NOT_FOUND', `ERP has no project '${psaProjectId}': push its financial dimensions first`, {
    system: 'erp',
    field,
    value: psaProjectId,
  });
}
