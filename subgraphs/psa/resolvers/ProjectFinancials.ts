import { money } from '../../../lib/money';
import type { ProjectFinancialsRecord } from '../connector/psa-connector';

/** A project's billed and collected figures as Money. */
export const ProjectFinancials = {
  billed: (f: ProjectFinancialsRecord) => money(f.billedMinor, f.currency),
  collected: (f: ProjectFinancialsRecord) => money(f.collectedMinor, f.currency),
  overdue: (f: ProjectFinancialsRecord) => money(f.overdueMinor, f.currency),
  collectionsStatus: (f: ProjectFinancialsRecord) => (f.overdueMinor > 0 ? 'OVERDUE' : 'CURRENT'),
};
