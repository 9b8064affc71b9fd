import { MeridianError } from '../../../lib/errors';
import { recordId } from '../../../lib/input';
import { fromMinor, type Money, toMinor } from '../../../lib/money';
import type { AmendmentForApply, ProjectForAmendment } from '../systems/amendment-apis';
import { SystemError } from '../systems/system-error';
import { type Flow, flow, type StepContext } from './flow';

/** Input of an amendment run: the CRM contract amendment. */
export interface ApplyContractAmendmentInput {
  amendmentId: string;
}

/** What `readAmendment` found: the amendment, the won deal it amends and the deal's PSA project. */
interface Amendment {
  amendmentId: string;
  opportunityId: string;
  accountId: string;
  projectId: string;
  newAmount: Money | null;
  newEndDate: string | null;
  addMilestones: AmendmentForApply['addMilestones'];
  removeMilestoneIds: string[];
  changeMilestones: AmendmentForApply['changeMilestones'];
  /** "Contract amendment CAM-… of opportunity 'OPP-…' (name)", for messages. */
  label: string;
}

/** What `planProjectChanges` decided against the project as it stood: fixed at its first attempt, so retries agree. */
interface Plan {
  projectId: string;
  /** "project PRJ-… (code, name)", for messages. */
  project: string;
  currency: string;
  budgetBefore: Money;
  budgetAfter: Money;
  endDateBefore: string | null;
  endDateAfter: string | null;
}

/** A milestone as the PSA holds it after the amendment: the ERP schedules its billing. */
interface AmendedMilestone {
  id: string;
  name: string;
  dueDate: string;
  amount: Money;
}

/** The external ID every write of an amendment carries, in each system: one amendment is applied once, whichever run. */
export const amendmentExternalId = (amendmentId: string) => `amendment:${amendmentId}`;

const shown = (m: Money) => `${m.amount} ${m.currency}`;
const minor = (m: Money) => toMinor(m.amount, m.currency);

/**
 * Re-reads the deal before a step writes: one that left closed-won (or was deleted) since the run started stops the run
 * with PRECONDITION_LOST, and the run undoes what it wrote, as a conversion does (a step may wait minutes on a slow or
 * throttled system).
 */
async function assertStillWon(ctx: StepContext<ApplyContractAmendmentInput>, a: Amendment): Promise<void> {
  const now = await ctx.systems.crm.getOpportunity(a.opportunityId, ctx.correlationId);
  if (now?.stage === 'CLOSED_WON') return;
  throw new SystemError(
    'PRECONDITION_LOST',
    `${a.label}: the deal ${now ? `left closed-won (it is ${now.stage} now)` : 'was deleted from the CRM'} while the amendment was being applied; the run undoes what it wrote, newest first`,
    'crm',
  );
}

/** Billing models whose projects carry milestones that must add up to the contract value. */
const MILESTONE_BILLED = new Set(['FIXED_FEE', 'MILESTONE']);

const MODEL_WORDS: Record<string, string> = { TIME_AND_MATERIALS: 'time and materials', RETAINER: 'as a retainer' };

/**
 * What an amendment would do to each invoiced milestone it names, in words; empty when it names none. An invoiced
 * milestone is in the books: changing or removing it would make the PSA, the ERP invoice and the contract disagree.
 */
function invoicedTouched(a: Amendment, project: ProjectForAmendment): string[] {
  const byId = new Map(project.milestones.map((m) => [m.id, m]));
  const on = (m: ProjectForAmendment['milestones'][number]) =>
    `milestone ${m.id} (${m.name}) is invoiced${m.invoiceId ? ` on ERP invoice ${m.invoiceId}` : ''} at ${shown(m.amount)}`;
  const problems: string[] = [];
  for (const id of a.removeMilestoneIds) {
    const m = byId.get(id);
    if (m?.status === 'INVOICED') problems.push(`${on(m)}, and the amendment would remove it`);
  }
  for (const c of a.changeMilestones) {
    const m = byId.get(c.milestoneId);
    if (m?.status !== 'INVOICED') continue;
    const what = [
      c.amount && `its amount to ${shown(c.amount)}`,
      c.dueDate && `its due date from ${m.dueDate} to ${c.dueDate}`,
    ].filter(Boolean);
    problems.push(`${on(m)}, and the amendment would change ${what.join(' and ')}`);
  }
  return problems;
}

/**
 * Approved CRM contract amendment (change order) on a won, converted deal → the PSA project's budget, end date and
 * milestones → the ERP contract's value, end date and billing schedule → the amendment marked APPLIED in the CRM.
 * Exactly once per amendment: every write carries the amendment's own external ID, so a retried, resumed or repeated
 * write finds the first one; abandoning undoes the writes newest first. A milestone already invoiced is never changed:
 * an amendment that would change or remove one stops before any write, naming each such milestone and why.
 */
export const applyContractAmendment: Flow<ApplyContractAmendmentInput> = flow<ApplyContractAmendmentInput>({
  name: 'applyContractAmendment',

  parseInput(raw) {
    return { amendmentId: recordId(raw.amendmentId, 'amendmentId') };
  },

  subject: (input) => ({
    subjectKey: `amendment:${input.amendmentId}`,
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: null,
    projectId: null,
  }),

  async precondition(input, systems, correlationId) {
    const found = await systems.crm.getContractAmendment(input.amendmentId, correlationId);
    if (!found) return;
    const deal = `opportunity '${found.opportunity.id}' (${found.opportunity.name})`;
    const refuse = (message: string) =>
      new MeridianError('INVALID_STATE', message, { field: 'amendmentId', value: found.id });
    if (found.status === 'DRAFT')
      throw refuse(
        `Contract amendment ${found.id} of ${deal} is a draft; approve it in the CRM, and the amendment trigger applies it (or call applyContractAmendment again then)`,
      );
    if (found.opportunity.stage !== 'CLOSED_WON')
      throw refuse(
        `Contract amendment ${found.id} amends ${deal}, which is ${found.opportunity.stage}; only a won deal's contract is amended`,
      );
    if (!found.opportunity.psaProjectId)
      throw refuse(
        `Contract amendment ${found.id} amends ${deal}, which has no project yet; convert the deal first (convertOpportunityToProject), then apply the amendment`,
      );
  },
})
  .step('readAmendment', {
    system: 'crm',
    reveals: ['accountId', 'projectId'],
    async run(ctx): Promise<Amendment> {
      const found = await ctx.systems.crm.getContractAmendment(ctx.input.amendmentId, ctx.correlationId);
      if (!found)
        throw new SystemError(
          'MISSING_REFERENCE',
          `The CRM has no contract amendment '${ctx.input.amendmentId}'`,
          'crm',
          'NOT_FOUND',
        );
      const o = found.opportunity;
      const label = `Contract amendment ${found.id} of opportunity '${o.id}' (${o.name})`;
      if (found.status === 'DRAFT')
        throw new SystemError('BAD_VALUE', `${label} is a draft; approve it in the CRM first`, 'crm');
      if (o.stage !== 'CLOSED_WON')
        throw new SystemError(
          'BAD_VALUE',
          `${label} cannot be applied: the deal is ${o.stage}; only a won deal's contract is amended`,
          'crm',
        );
      if (!o.psaProjectId)
        throw new SystemError(
          'MISSING_REFERENCE',
          `${label} cannot be applied: the deal has no PSA project yet; convert it first`,
          'crm',
        );
      return {
        amendmentId: found.id,
        opportunityId: o.id,
        accountId: o.account.id,
        projectId: o.psaProjectId,
        newAmount: found.newAmount,
        newEndDate: found.newEndDate,
        addMilestones: found.addMilestones,
        removeMilestoneIds: found.removeMilestoneIds,
        changeMilestones: found.changeMilestones,
        label,
      };
    },
  })
  .step('planProjectChanges', {
    system: 'psa',
    reveals: ['projectId'],
    async run(ctx): Promise<Plan> {
      const a = ctx.results.readAmendment;
      const project = await ctx.systems.psa.getProjectForAmendment(a.projectId, ctx.correlationId);
      if (!project)
        throw new SystemError(
          'MISSING_REFERENCE',
          `${a.label} cannot be applied: the PSA has no project '${a.projectId}'`,
          'psa',
          'NOT_FOUND',
        );
      const where = `project ${project.id} (${project.code}, ${project.name})`;
      const currency = project.budget.currency;
      const plan: Plan = {
        projectId: project.id,
        project: where,
        currency,
        budgetBefore: project.budget,
        budgetAfter: a.newAmount ?? project.budget,
        endDateBefore: project.endDate,
        endDateAfter: a.newEndDate ?? project.endDate,
      };
      // The PSA carries this amendment already (an earlier run applied it, then stopped and was resolved): it was
      // checked then, and the project shows it now, so checking it again would find its own changes; the writes
      // that follow repeat idempotently.
      const held = await ctx.systems.psa.getProjectAmendmentStatus(
        amendmentExternalId(a.amendmentId),
        ctx.correlationId,
      );
      if (held === 'APPLIED') return plan;
      const amounts = [
        a.newAmount,
        ...a.addMilestones.map((m) => m.amount),
        ...a.changeMilestones.map((c) => c.amount),
      ];
      const foreign = amounts.find((m) => m && m.currency !== currency);
      if (foreign)
        throw new SystemError(
          'BAD_VALUE',
          `${a.label} is in ${foreign.currency}, but ${where} is in ${currency}; amend it in ${currency}`,
          'crm',
        );
      const ids = new Set(project.milestones.map((m) => m.id));
      const unknown = [...a.removeMilestoneIds, ...a.changeMilestones.map((c) => c.milestoneId)].filter(
        (id) => !ids.has(id),
      );
      if (unknown.length)
        throw new SystemError(
          'BAD_VALUE',
          `${a.label} names milestone${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, which ${where} does not have; correct the amendment in the CRM`,
          'crm',
        );
      const locked = invoicedTouched(a, project);
      if (locked.length)
        throw new SystemError(
          'CONFLICT',
          `${a.label} cannot be applied to ${where}: ${locked.join('; ')}. An invoiced milestone is never changed (a credit note is finance's decision): make a new amendment without ${locked.length > 1 ? 'them' : 'it'}, then resolve or abandon this run`,
          'psa',
          'INVOICED_MILESTONE_LOCKED',
        );
      const { budgetAfter } = plan;
      if (!MILESTONE_BILLED.has(project.billingModel) && a.addMilestones.length > 0)
        throw new SystemError(
          'BAD_VALUE',
          `${a.label} adds milestones to ${where}, which is billed ${MODEL_WORDS[project.billingModel] ?? project.billingModel}: only fixed-fee and milestone projects are invoiced by milestone; amend its contract value and end date instead`,
          'crm',
        );
      if (MILESTONE_BILLED.has(project.billingModel)) {
        // The milestones of a fixed-fee or milestone project are how its contract value is invoiced: after the
        // amendment they must still add up to it, or the project would be under- or over-invoiced.
        const removed = new Set(a.removeMilestoneIds);
        const changed = new Map(a.changeMilestones.map((c) => [c.milestoneId, c]));
        const after = [
          ...project.milestones.filter((m) => !removed.has(m.id)).map((m) => changed.get(m.id)?.amount ?? m.amount),
          ...a.addMilestones.map((m) => m.amount),
        ].reduce((sum, m) => sum + minor(m), 0n);
        if (after !== minor(budgetAfter))
          throw new SystemError(
            'BAD_VALUE',
            `${a.label} cannot be applied to ${where}: its milestones would add up to ${fromMinor(after, currency)} ${currency}, but the contract value would be ${shown(budgetAfter)}; a ${project.billingModel === 'FIXED_FEE' ? 'fixed-fee' : 'milestone'} project invoices its value through its milestones, so correct the amendment in the CRM`,
            'crm',
          );
      }
      return plan;
    },
  })
  .step('amendPsaProject', {
    system: 'psa',
    reveals: ['projectId'],
    async run(ctx) {
      const a = ctx.results.readAmendment;
      await assertStillWon(ctx, a);
      const result = await ctx.systems.psa.amendProject(
        {
          externalId: amendmentExternalId(a.amendmentId),
          projectId: a.projectId,
          budget: a.newAmount,
          endDate: a.newEndDate,
          addMilestones: a.addMilestones,
          removeMilestoneIds: a.removeMilestoneIds,
          changeMilestones: a.changeMilestones,
        },
        ctx.correlationId,
      );
      return {
        projectId: result.project.id,
        applied: result.applied,
        budget: result.project.budget,
        endDate: result.project.endDate,
        addedMilestoneIds: result.addedMilestoneIds,
        milestones: result.project.milestones.map(
          (m): AmendedMilestone => ({ id: m.id, name: m.name, dueDate: m.dueDate, amount: m.amount }),
        ),
      };
    },
    writes: (output) => `amended PSA project ${output.projectId}`,
    async compensate(ctx) {
      await ctx.systems.psa.revertProjectAmendment(amendmentExternalId(ctx.input.amendmentId), ctx.correlationId);
    },
  })
  .step('amendErpContract', {
    system: 'erp',
    reveals: ['projectId'],
    async run(ctx) {
      const a = ctx.results.readAmendment;
      const p = ctx.results.planProjectChanges;
      const { milestones } = ctx.results.amendPsaProject;
      await assertStillWon(ctx, a);
      const billingSchedule = milestones.map((m) => ({
        milestoneId: m.id,
        description: `Milestone: ${m.name}`,
        dueDate: m.dueDate,
        amount: m.amount,
      }));
      const result = await ctx.systems.erp.amendProjectContract(
        {
          externalId: amendmentExternalId(a.amendmentId),
          projectId: p.projectId,
          value: p.budgetAfter,
          endDate: p.endDateAfter,
          billingSchedule,
        },
        ctx.correlationId,
      );
      return {
        projectId: p.projectId,
        applied: result.applied,
        value: p.budgetAfter,
        endDate: p.endDateAfter,
        scheduledBillings: billingSchedule.length,
      };
    },
    writes: (output) => `amended the ERP contract of project ${output.projectId}`,
    async compensate(ctx) {
      await ctx.systems.erp.revertProjectContractAmendment(
        amendmentExternalId(ctx.input.amendmentId),
        ctx.correlationId,
      );
    },
  })
  .step('markAmendmentApplied', {
    system: 'crm',
    async run(ctx) {
      const a = ctx.results.readAmendment;
      await assertStillWon(ctx, a);
      await ctx.systems.crm.markContractAmendmentApplied(a.amendmentId, a.projectId, ctx.correlationId);
      return { amendmentId: a.amendmentId, status: 'APPLIED', psaProjectId: a.projectId };
    },
    writes: (output) => `marked contract amendment ${output.amendmentId} applied`,
    async compensate(ctx, output) {
      await ctx.systems.crm.unmarkContractAmendmentApplied(output.amendmentId, ctx.correlationId);
    },
  })
  .build();
