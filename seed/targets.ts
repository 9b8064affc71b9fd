import type { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import type { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import type { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import type { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';
import {
  LEGAL_ENTITIES,
  PROJECT_TEMPLATES,
  RATE_CARDS,
  RESOURCES,
  SEED_AS_OF,
  TAX_JURISDICTIONS,
} from './reference-data';
import type { SeedTarget } from './seed-stores';

/** The reference CRM as a seed target. */
export function crmSeedTarget(crm: SqliteCrmConnector): SeedTarget {
  return { name: 'crm', isEmpty: () => crm.isEmpty(), seedChunk: (chunk) => crm.seed(chunk.crm) };
}

/** The reference PSA as a seed target (rate cards, templates and staff first). */
export function psaSeedTarget(psa: SqlitePsaConnector): SeedTarget {
  return {
    name: 'psa',
    isEmpty: () => psa.isEmpty(),
    seedReferenceData: () =>
      psa.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES }),
    seedChunk: (chunk) => psa.seed(chunk.psa),
  };
}

/** The reference ERP as a seed target (legal entities and tax jurisdictions first). */
export function erpSeedTarget(erp: SqliteErpConnector): SeedTarget {
  return {
    name: 'erp',
    isEmpty: () => erp.isEmpty(),
    seedReferenceData: () =>
      erp.seedReferenceData({ legalEntities: LEGAL_ENTITIES, taxJurisdictions: TAX_JURISDICTIONS }),
    seedChunk: (chunk) => erp.seed(chunk.erp),
  };
}

/** The orchestration ledger as a seed target: the demo data's cross-references. */
export function ledgerSeedTarget(ledger: SqliteLedger): SeedTarget {
  return {
    name: 'orchestration',
    isEmpty: () => ledger.isEmpty(),
    seedChunk: (chunk) => ledger.seedCrossReferences(chunk.crossReferences, `${SEED_AS_OF}T00:00:00.000Z`),
  };
}
