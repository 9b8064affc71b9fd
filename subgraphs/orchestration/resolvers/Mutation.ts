import { createHash } from 'node:crypto';
import { MeridianError } from '../../../lib/errors';
import type { OrchestrationContext } from '../context';
import type { Flow } from '../flows/flow';

/** Who started or changed a run through the API; the security issue replaces it with the token's subject. */
const API_ACTOR = 'api';

async function startRun(ctx: OrchestrationContext, flowName: string, raw: Record<string, unknown>, idempotencyKey: string | null | undefined) {
  const flow = ctx.flows.get(flowName)!;
  const input = flow.parseInput(raw) as Record<string, unknown>;
  const subject = flow.subject(input);
  if (idempotencyKey !== undefined && idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
    throw new MeridianError('BAD_USER_INPUT', 'idempotencyKey must be 1 to 255 characters', { field: 'idempotencyKey' });
  }
  const { run, created } = await ctx.ledger.createRun({
    flow: flow.name,
    input,
    stepNames: flow.steps.map((s) => s.name),
    ...subject,
    triggeredBy: API_ACTOR,
    idempotency: idempotencyKey ? { key: idempotencyKey, requestHash: createHash('sha256').update(JSON.stringify([flow.name, input])).digest('hex') } : null,
  });
  if (created) ctx.runQueued();
  return run;
}

async function flowOf(ctx: OrchestrationContext, runId: string): Promise<{ flow: Flow<unknown>; input: Record<string, unknown> }> {
  const run = await ctx.loaders.run.load(runId);
  if (!run) throw new MeridianError('NOT_FOUND', `No sync run '${runId}'`, { value: runId });
  return { flow: ctx.flows.get(run.flow)!, input: run.input };
}

export const Mutation = {
  convertOpportunityToProject: (_: unknown, { input }: { input: { opportunityId: string; idempotencyKey?: string | null } }, ctx: OrchestrationContext) =>
    startRun(ctx, 'convertOpportunityToProject', { opportunityId: input.opportunityId }, input.idempotencyKey),
  billApprovedTime: (_: unknown, { input }: { input: { projectId: string; until?: string | null; idempotencyKey?: string | null } }, ctx: OrchestrationContext) =>
    startRun(ctx, 'billApprovedTime', { projectId: input.projectId, ...(input.until ? { until: input.until } : {}) }, input.idempotencyKey),
  billMilestone: (_: unknown, { input }: { input: { milestoneId: string; idempotencyKey?: string | null } }, ctx: OrchestrationContext) =>
    startRun(ctx, 'billMilestone', { milestoneId: input.milestoneId }, input.idempotencyKey),
  syncInvoiceStatus: (_: unknown, { input }: { input: { invoiceId: string; idempotencyKey?: string | null } }, ctx: OrchestrationContext) =>
    startRun(ctx, 'syncInvoiceStatus', { invoiceId: input.invoiceId }, input.idempotencyKey),
  syncCustomer: (_: unknown, { input }: { input: { accountId: string; idempotencyKey?: string | null } }, ctx: OrchestrationContext) =>
    startRun(ctx, 'syncCustomer', { accountId: input.accountId }, input.idempotencyKey),
  retryRun: async (_: unknown, args: { id: string }, ctx: OrchestrationContext) => {
    const run = await ctx.ledger.retryRun(args.id, API_ACTOR);
    ctx.runQueued();
    return run;
  },
  retryRunWithInput: async (_: unknown, args: { id: string; patch: Record<string, unknown> }, ctx: OrchestrationContext) => {
    const patch = Object.fromEntries(Object.entries(args.patch).filter(([, v]) => v !== null && v !== undefined));
    if (Object.keys(patch).length === 0) throw new MeridianError('BAD_USER_INPUT', 'patch must correct at least one field', { field: 'patch' });
    const { flow, input } = await flowOf(ctx, args.id);
    flow.parseInput({ ...input, ...patch });
    const run = await ctx.ledger.retryRun(args.id, API_ACTOR, patch);
    ctx.runQueued();
    return run;
  },
  resolveException: (_: unknown, args: { id: string; note: string }, ctx: OrchestrationContext) => {
    if (args.note.trim() === '') throw new MeridianError('BAD_USER_INPUT', 'note must say how the exception was resolved', { field: 'note' });
    return ctx.ledger.resolveException(args.id, API_ACTOR, args.note.trim());
  },
  abandonRun: async (_: unknown, args: { id: string }, ctx: OrchestrationContext) => {
    const run = await ctx.ledger.abandonRun(args.id, API_ACTOR);
    ctx.runQueued();
    return run;
  },
};
