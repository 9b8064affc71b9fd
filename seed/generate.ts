import { addDays } from '../lib/dates';
import { formatId } from '../lib/ids';
import { extendMinor } from '../lib/money';
import { mulberry32 } from '../lib/reference-faults';
import type {
  AccountRecord,
  BillingModel,
  ContactRecord,
  OpportunityRecord,
  OpportunityStage,
} from '../subgraphs/crm/connector/crm-connector';
import type {
  BillingLineRecord,
  CustomerRecord,
  InvoiceLineRecord,
  InvoiceRecord,
  PaymentRecord,
  ProjectDimensionsRecord,
} from '../subgraphs/erp/connector/erp-connector';
import type { NewCrossReference } from '../subgraphs/orchestration/engine/ledger';
import type {
  ExpenseRecord,
  MilestoneRecord,
  ProjectRecord,
  TimeEntryRecord,
} from '../subgraphs/psa/connector/psa-connector';
import {
  FIRST_NAMES,
  LAST_NAMES,
  PROJECT_TEMPLATES,
  RATE_CARDS,
  REGIONS,
  RESOURCES,
  SEED_AS_OF,
  SERVICE_PACKAGES,
  TAX_JURISDICTIONS,
  type Region,
} from './reference-data';

/** Demo rows for every system, for a range of accounts. */
export interface DatasetChunk {
  crm: { accounts: AccountRecord[]; contacts: ContactRecord[]; opportunities: OpportunityRecord[] };
  psa: {
    projects: ProjectRecord[];
    milestones: MilestoneRecord[];
    timeEntries: TimeEntryRecord[];
    expenses: ExpenseRecord[];
  };
  erp: {
    customers: CustomerRecord[];
    projectDimensions: ProjectDimensionsRecord[];
    billingLines: BillingLineRecord[];
    invoices: InvoiceRecord[];
    invoiceLines: InvoiceLineRecord[];
    payments: PaymentRecord[];
  };
  crossReferences: NewCrossReference[];
}

/** Accounts in the default demo data set. */
export const DEFAULT_DEMO_ACCOUNTS = 40;

const ADJECTIVES = [
  'Northwind',
  'Bluewater',
  'Summit',
  'Ironbridge',
  'Silverline',
  'Redwood',
  'Brightpath',
  'Harbor',
  'Granite',
  'Evergreen',
  'Lakeside',
  'Crescent',
  'Pinnacle',
  'Horizon',
  'Falcon',
  'Cobalt',
  'Meadow',
  'Atlas',
  'Orion',
  'Juniper',
];
const NOUNS = [
  'Logistics',
  'Health',
  'Foods',
  'Energy',
  'Retail',
  'Capital',
  'Pharma',
  'Motors',
  'Media',
  'Insurance',
  'Telecom',
  'Textiles',
  'Aerospace',
  'Analytics',
  'Hotels',
  'Shipping',
  'Foods',
  'Chemicals',
  'Robotics',
  'Water',
];
const SUFFIXES: Record<Region, string[]> = {
  NA: ['Inc.', 'Corp.', 'LLC'],
  UK: ['Ltd', 'plc', 'Group Ltd'],
  DACH: ['GmbH', 'AG', 'SE'],
};
const INDUSTRIES = [
  'Manufacturing',
  'Healthcare',
  'Financial Services',
  'Retail',
  'Energy',
  'Technology',
  'Logistics',
  'Public Sector',
];
const OWNERS = ['Alex Morgan', 'Jamie Lee', 'Sam Patel', 'Robin Fischer', 'Taylor Brooks', 'Jordan Okafor'];
const TITLES = ['CFO', 'CIO', 'Head of Finance Systems', 'VP Operations', 'IT Director', 'Procurement Lead'];
const OPEN_STAGES: OpportunityStage[] = ['PROSPECTING', 'QUALIFICATION', 'PROPOSAL', 'NEGOTIATION'];
const BILLING_MODELS: BillingModel[] = ['TIME_AND_MATERIALS', 'FIXED_FEE', 'MILESTONE', 'TIME_AND_MATERIALS'];
const EXPENSE_CATEGORIES = ['Travel', 'Lodging', 'Meals', 'Software'];
const PACKAGE_CODES: Record<string, string> = {
  ERP_IMPLEMENTATION: 'ERP',
  DATA_PLATFORM: 'DAT',
  CLOUD_MIGRATION: 'CLD',
  ADVISORY_RETAINER: 'ADV',
};

/**
 * Generates the demo rows of accounts `from` to `to - 1` (1-based account numbers), consistent across CRM,
 * PSA, ERP and the cross-reference registry. Each account's rows depend only on its number, so any range
 * can be generated alone and the whole data set is the same whatever the chunking.
 */
export function generateAccounts(from: number, to: number): DatasetChunk {
  const out: DatasetChunk = {
    crm: { accounts: [], contacts: [], opportunities: [] },
    psa: { projects: [], milestones: [], timeEntries: [], expenses: [] },
    erp: { customers: [], projectDimensions: [], billingLines: [], invoices: [], invoiceLines: [], payments: [] },
    crossReferences: [],
  };
  for (let n = from; n < to; n++) generateAccount(n, out);
  return out;
}

const STREETS = ['High Street', 'Market Square', 'Station Road', 'Harbour View', 'Park Avenue', 'Mill Lane'];
const CITIES: Record<Region, string[]> = {
  NA: ['New York, NY 10001', 'Boston, MA 02110', 'Chicago, IL 60601'],
  UK: ['London EC1A 1BB', 'Manchester M1 1AE', 'Leeds LS1 4DY'],
  DACH: ['10115 Berlin', '80331 München', '20095 Hamburg'],
};

/** A billing address for account `n`, lines separated by newlines. */
function billingAddress(n: number, region: Region): string {
  return `${n} ${STREETS[n % STREETS.length]}\n${CITIES[region][n % 3]}`;
}

function generateAccount(n: number, out: DatasetChunk): void {
  const rng = mulberry32(n * 7919 + 17);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
  const int = (min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
  const region = (['NA', 'NA', 'UK', 'DACH'] as const)[n % 4]!;
  const { country, currency, legalEntity, taxJurisdiction } = REGIONS[region];
  const accountId = formatId('ACC', n);
  out.crm.accounts.push({
    id: accountId,
    name: `${pick(ADJECTIVES)} ${pick(NOUNS)} ${pick(SUFFIXES[region])}`,
    industry: pick(INDUSTRIES),
    billingCountry: country,
    // Every tenth account belongs to the group of the account before it.
    parentAccountId: n % 10 === 0 && n > 1 ? formatId('ACC', n - 1) : null,
    owner: pick(OWNERS),
    externalId: null,
    // Seeded accounts stand as they were on the as-of date.
    updatedAt: `${SEED_AS_OF}T00:00:00.000Z`,
    // The customer master fields come from the account's number, not the dice, so the rest of the data stays as it was.
    legalName: null,
    billingAddress: billingAddress(n, region),
    billingContactId: null,
    paymentTerms: null,
  });
  const account = out.crm.accounts[out.crm.accounts.length - 1]!;
  // Every third account is registered under a longer name than it trades under.
  if (n % 3 === 0) account.legalName = `${account.name} Group`;
  const contacts = int(1, 3);
  for (let c = 1; c <= contacts; c++) {
    const first = pick(FIRST_NAMES);
    const last = pick(LAST_NAMES);
    out.crm.contacts.push({
      id: formatId('CON', n * 10 + c),
      accountId,
      firstName: first,
      lastName: last,
      title: pick(TITLES),
      email: `${first}.${last}@customer${n}.example`.toLowerCase(),
      phone: `+1-555-${String(int(100, 999))}-${String(int(1000, 9999))}`,
    });
  }
  // Invoices go to the account's first contact.
  const billingContact = out.crm.contacts[out.crm.contacts.length - contacts]!;
  account.billingContactId = billingContact.id;

  let customer: CustomerRecord | null = null;
  const opportunities = int(2, 4);
  for (let k = 1; k <= opportunities; k++) {
    const oppNumber = n * 10 + k;
    // The first opportunity of most accounts is won; later ones spread over the pipeline.
    const roll = rng();
    const stage: OpportunityStage =
      k === 1
        ? roll < 0.8
          ? 'CLOSED_WON'
          : 'NEGOTIATION'
        : roll < 0.3
          ? 'CLOSED_WON'
          : roll < 0.45
            ? 'CLOSED_LOST'
            : pick(OPEN_STAGES);
    const servicePackage = pick(SERVICE_PACKAGES);
    const billingModel: BillingModel = servicePackage === 'ADVISORY_RETAINER' ? 'RETAINER' : pick(BILLING_MODELS);
    const amountMinor = int(60, 900) * 1000_00;
    const closed = stage === 'CLOSED_WON' || stage === 'CLOSED_LOST';
    const closeDate = closed ? addDays('2025-10-01', int(0, 300)) : addDays(SEED_AS_OF, int(20, 180));
    const opportunity: OpportunityRecord = {
      id: formatId('OPP', oppNumber),
      accountId,
      name: `${PROJECT_TEMPLATES.find((t) => t.servicePackage === servicePackage)!.name} ${k === 1 ? 'Phase 1' : `Wave ${k}`}`,
      stage,
      amountMinor,
      currency,
      closeDate,
      servicePackage,
      billingModel,
      // Early-stage deals often lack the delivery fields that conversion needs.
      deliveryRegion: stage === 'PROSPECTING' ? null : region,
      expectedStartDate: stage === 'PROSPECTING' ? null : addDays(closeDate, 14),
      externalId: null,
      psaProjectId: null,
      erpCustomerId: null,
    };
    out.crm.opportunities.push(opportunity);
    // A few won deals wait for conversion, so the flows have work on a fresh demo.
    if (stage !== 'CLOSED_WON' || rng() < 0.15) continue;

    if (!customer) {
      customer = {
        id: formatId('CUS', n),
        customerNumber: `C${100000 + n}`,
        name: out.crm.accounts[out.crm.accounts.length - 1]!.name,
        legalEntityCode: legalEntity,
        taxJurisdictionCode: taxJurisdiction,
        paymentTerms: 'NET_30',
        currency,
        externalCrmId: accountId,
        // The CRM's values, as the customer sync would have written them; the hierarchy is left to the sync.
        legalName: account.legalName,
        billingCountry: country,
        billingAddress: account.billingAddress,
        billingContact: `${billingContact.firstName} ${billingContact.lastName} <${billingContact.email}>`,
        parentCustomerId: null,
      };
      out.erp.customers.push(customer);
      out.crossReferences.push({
        entityType: 'ACCOUNT',
        canonicalId: accountId,
        system: 'ERP',
        externalId: customer.id,
      });
    }
    const project = convert(opportunity, customer, oppNumber, rng, out);
    opportunity.psaProjectId = project.id;
    opportunity.erpCustomerId = customer.id;
    out.crossReferences.push(
      { entityType: 'OPPORTUNITY', canonicalId: opportunity.id, system: 'PSA', externalId: project.id },
      { entityType: 'OPPORTUNITY', canonicalId: opportunity.id, system: 'ERP', externalId: customer.id },
      { entityType: 'PROJECT', canonicalId: project.id, system: 'ERP', externalId: project.code },
    );
  }
}

/** What the conversion flow would have produced for a won opportunity: project, delivery, billing. */
function convert(
  opportunity: OpportunityRecord,
  customer: CustomerRecord,
  number: number,
  rng: () => number,
  out: DatasetChunk,
): ProjectRecord {
  const template = PROJECT_TEMPLATES.find((t) => t.servicePackage === opportunity.servicePackage)!;
  const rateCard = RATE_CARDS.find((r) => r.currency === opportunity.currency)!;
  const taxBp = TAX_JURISDICTIONS.find((t) => t.code === customer.taxJurisdictionCode)!.rateBasisPoints;
  const startDate = opportunity.expectedStartDate!;
  const endDate = addDays(startDate, template.durationDays);
  const currency = opportunity.currency!;
  const project: ProjectRecord = {
    id: formatId('PRJ', number),
    code: `${PACKAGE_CODES[template.servicePackage]}-${String(number).padStart(7, '0')}`,
    name: `${out.crm.accounts[out.crm.accounts.length - 1]!.name} — ${template.name}`,
    status: endDate < SEED_AS_OF ? 'COMPLETED' : startDate > SEED_AS_OF ? 'PLANNED' : 'ACTIVE',
    billingModel: opportunity.billingModel!,
    budgetMinor: opportunity.amountMinor!,
    currency,
    startDate,
    endDate,
    templateId: template.id,
    rateCardId: rateCard.id,
    accountId: opportunity.accountId,
    opportunityId: opportunity.id,
    externalId: `seed:${opportunity.id}`,
  };
  out.psa.projects.push(project);
  out.erp.projectDimensions.push({
    psaProjectId: project.id,
    customerId: customer.id,
    projectCode: project.code,
    billingSchedule:
      project.billingModel === 'TIME_AND_MATERIALS'
        ? 'MONTHLY_IN_ARREARS'
        : project.billingModel === 'RETAINER'
          ? 'MONTHLY_IN_ADVANCE'
          : 'ON_MILESTONE',
    revenueTreatment:
      project.billingModel === 'TIME_AND_MATERIALS'
        ? 'AS_DELIVERED'
        : project.billingModel === 'RETAINER'
          ? 'STRAIGHT_LINE'
          : 'PERCENT_COMPLETE',
  });

  let invoiceSeq = 0;
  const projectLines = new Map<string, BillingLineRecord>();
  const addInvoice = (
    issueDate: string,
    lines: { description: string; quantityHundredths: number; unitPriceMinor: number; amountMinor: number }[],
    lineIds: string[],
  ): string => {
    invoiceSeq += 1;
    const id = formatId('INV', number * 100 + invoiceSeq);
    const subtotal = lines.reduce((s, l) => s + l.amountMinor, 0);
    const tax = Math.round((subtotal * taxBp) / 10000);
    const dueDate = addDays(issueDate, 30);
    const ageDays = (Date.parse(SEED_AS_OF) - Date.parse(issueDate)) / 86_400_000;
    // Old invoices are paid, one in five of the recent ones part-paid; the rest are open (some overdue).
    const paid = ageDays > 60 ? subtotal + tax : rng() < 0.2 ? Math.round((subtotal + tax) / 2) : 0;
    const receivedOn = addDays(issueDate, Math.min(25, Math.floor(ageDays)));
    out.erp.invoices.push({
      id,
      number: `${customer.legalEntityCode.slice(-2)}-${issueDate.slice(0, 4)}-${String(number * 100 + invoiceSeq).padStart(9, '0')}`,
      customerId: customer.id,
      psaProjectId: project.id,
      status: paid === subtotal + tax ? 'PAID' : 'POSTED',
      issueDate,
      dueDate,
      currency,
      subtotalMinor: subtotal,
      taxMinor: tax,
      totalMinor: subtotal + tax,
      balanceMinor: subtotal + tax - paid,
      externalId: `seed:${id}`,
      // Last changed when posted, or when its payment came in.
      updatedAt: `${paid > 0 ? receivedOn : issueDate}T00:00:00.000Z`,
    });
    for (const [i, l] of lines.entries()) {
      out.erp.invoiceLines.push({
        invoiceId: id,
        lineNumber: i + 1,
        description: l.description,
        quantityHundredths: l.quantityHundredths,
        unitPriceMinor: l.unitPriceMinor,
        amountMinor: l.amountMinor,
      });
    }
    for (const lineId of lineIds) {
      const line = projectLines.get(lineId);
      if (line) line.invoiceId = id;
    }
    if (paid > 0) {
      out.erp.payments.push({
        id: formatId('PAY', number * 100 + invoiceSeq),
        invoiceId: id,
        amountMinor: paid,
        currency,
        receivedOn,
        externalId: `seed:pay:${id}`,
      });
    }
    return id;
  };

  // Milestones for fixed-fee and milestone billing: due ones are completed, and all but the newest invoiced.
  if (project.billingModel === 'FIXED_FEE' || project.billingModel === 'MILESTONE') {
    template.milestones.forEach((m, i) => {
      const dueDate = addDays(startDate, m.offsetDays);
      const done = dueDate <= SEED_AS_OF;
      const amountMinor = Math.round((project.budgetMinor * m.sharePercent) / 100);
      const milestone: MilestoneRecord = {
        id: formatId('MS', number * 10 + i + 1),
        projectId: project.id,
        name: m.name,
        sequence: i + 1,
        dueDate,
        amountMinor,
        currency,
        status: done ? 'COMPLETED' : 'PLANNED',
        completedOn: done ? dueDate : null,
        invoiceId: null,
      };
      out.psa.milestones.push(milestone);
      const nextDue = template.milestones[i + 1] ? addDays(startDate, template.milestones[i + 1]!.offsetDays) : null;
      if (done && nextDue !== null && nextDue <= SEED_AS_OF) {
        milestone.status = 'INVOICED';
        milestone.invoiceId = addInvoice(
          dueDate,
          [{ description: `Milestone: ${m.name}`, quantityHundredths: 100, unitPriceMinor: amountMinor, amountMinor }],
          [],
        );
      }
    });
  }

  // Time: two or three staff, a few days a week, from the start to the as-of date (or the end).
  const staff = [
    RESOURCES[(Math.floor(rng() * 6) * 5) % 30]!,
    RESOURCES[(Math.floor(rng() * 6) * 5 + 2) % 30]!,
    RESOURCES[(Math.floor(rng() * 6) * 5 + 3) % 30]!,
  ].slice(0, 2 + Math.floor(rng() * 2));
  const until = endDate < SEED_AS_OF ? endDate : SEED_AS_OF;
  const billedBefore = addDays(SEED_AS_OF, -30);
  const tm = project.billingModel === 'TIME_AND_MATERIALS';
  let entrySeq = 0;
  const monthLines = new Map<string, string[]>();
  for (let week = 0; week < 12; week++) {
    const weekStart = addDays(startDate, week * 7);
    if (weekStart > until) break;
    for (const resource of staff) {
      const days = 2 + Math.floor(rng() * 3);
      for (let d = 0; d < days; d++) {
        entrySeq += 1;
        const date = addDays(weekStart, d);
        const hoursHundredths = (16 + Math.floor(rng() * 17)) * 25; // 4.00 to 8.00 h in quarter hours
        const billable = tm && rng() < 0.92;
        const id = formatId('TE', number * 1000 + entrySeq);
        const billed = billable && date < billedBefore;
        const status = billed ? 'BILLED' : date < billedBefore || rng() < 0.6 ? 'APPROVED' : 'SUBMITTED';
        let billingReference: string | null = null;
        if (billed) {
          const rate = rateCard.rates.find((r) => r.role === resource.role)!.rateMinor;
          const line: BillingLineRecord = {
            id: formatId('BL', number * 1000 + entrySeq),
            externalId: `seed:${id}`,
            psaProjectId: project.id,
            sourceType: 'TIME',
            sourceId: id,
            description: `${resource.role} — ${resource.name}, ${date}`,
            quantityHundredths: hoursHundredths,
            unitPriceMinor: rate,
            amountMinor: Number(extendMinor(hoursHundredths, rate)),
            currency,
            postingDate: date,
            invoiceId: null,
          };
          out.erp.billingLines.push(line);
          projectLines.set(line.id, line);
          billingReference = line.id;
          const month = date.slice(0, 7);
          monthLines.set(month, [...(monthLines.get(month) ?? []), line.id]);
        }
        out.psa.timeEntries.push({
          id,
          projectId: project.id,
          resourceId: resource.id,
          role: resource.role,
          date,
          hoursHundredths,
          billable,
          status,
          notes: null,
          billingReference,
        });
      }
    }
    if (rng() < 0.3) {
      const resource = staff[0]!;
      const amountMinor = (50 + Math.floor(rng() * 600)) * 100;
      const date = addDays(weekStart, 2);
      out.psa.expenses.push({
        id: formatId('EXP', number * 100 + week + 1),
        projectId: project.id,
        resourceId: resource.id,
        date,
        category: EXPENSE_CATEGORIES[Math.floor(rng() * EXPENSE_CATEGORIES.length)]!,
        description: 'Client site visit',
        amountMinor,
        currency,
        billable: tm,
        status: 'APPROVED',
        billingReference: null,
      });
    }
  }
  // T&M: one invoice per month of billed time.
  for (const [month, lineIds] of monthLines) {
    const lines = lineIds.map((id) => projectLines.get(id)!);
    addInvoice(
      `${addDays(`${month}-01`, 31).slice(0, 7)}-01`,
      lines.map((l) => ({
        description: l.description,
        quantityHundredths: l.quantityHundredths,
        unitPriceMinor: l.unitPriceMinor,
        amountMinor: l.amountMinor,
      })),
      lineIds,
    );
  }
  // Retainer: a monthly fee invoiced in advance.
  if (project.billingModel === 'RETAINER') {
    const fee = Math.round(project.budgetMinor / 12);
    for (let m = 0; m < 12; m++) {
      const issueDate = addDays(startDate, m * 30);
      if (issueDate > SEED_AS_OF) break;
      addInvoice(
        issueDate,
        [
          {
            description: `Advisory retainer, month ${m + 1}`,
            quantityHundredths: 100,
            unitPriceMinor: fee,
            amountMinor: fee,
          },
        ],
        [],
      );
    }
  }
  return project;
}
