import { MeridianError } from '../../../lib/errors';
import { manualTouches } from '../../../lib/metrics/metrics';
import type { OrchestrationContext } from '../context';
import { planCorrection } from '../engine/corrections';
import type { Actor, RunRecord } from '../engine/ledger';
import { queueRun } from '../engine/queue-run';
import type { Flow } from '../flows/flow';

/**
 * The caller as the audit log records it: token subject, role, our request ID as correlation ID and the caller's own
 * request ID beside it.
 * @throws MeridianError UNAUTHENTICATED without an identity (the schema's scopes refuse such a caller before any resolver runs).
 */
function actorOf(ctx: OrchestrationContext): Actor {
  if (!ctx.identity) throw new MeridianError('UNAUTHENTICATED', 'Changing runs needs an authenticated caller');
  return {
    subject: ctx.identity.subject,
    role: ctx.identity.role,
    correlationId: ctx.requestId,
    callerRequestId: ctx.callerRequestId,
  };
}

async function startRun(
  ctx: OrchestrationContext,
  flowName: string,
  raw: Record<string, unknown>,
  idempotencyKey: string | null | undefined,
) {
  const flow = ctx.flows.get(flowName)!;
  const actor = actorOf(ctx);
  if (flow.precondition && ctx.systems)
    await flow.precondition(flow.parseInput(raw), ctx.systems, ctx.requestId, ctx.governance);
  const { run, created } = await queueRun(ctx.ledger, flow, raw, {
    actor,
    idempotencyKey,
    auditRepeats: true,
    explicit: true,
  });
  if (created) ctx.runQueued();
  return run;
}

async function flowOf(ctx: OrchestrationContext, runId: string): Promise<{ flow: Flow<unknown>; run: RunRecord }> {
  const run = await ctx.loaders.run.load(runId);
  if (!run) throw new MeridianError('NOT_FOUND', `No sync run '${runId}'`, { value: runId });
  return { flow: ctx.flows.get(run.flow)!, run };
}

export const Mutation = {
  convertOpportunityToProject: (
    _: unknown,
    { input }: { input: { opportunityId: string; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) => startRun(ctx, 'convertOpportunityToProject', { opportunityId: input.opportunityId }, input.idempotencyKey),
  billApprovedTime: (
    _: unknown,
    { input }: { input: { projectId: string; until?: string | null; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) =>
    startRun(
      ctx,
      'billApprovedTime',
      {
        projectId: input.projectId,
        ...(input.until === null || input.until === undefined ? {} : { until: input.until }),
      },
      input.idempotencyKey,
    ),
  billMilestone: (
    _: unknown,
    { input }: { input: { milestoneId: string; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) => startRun(ctx, 'billMilestone', { milestoneId: input.milestoneId }, input.idempotencyKey),
  syncInvoiceStatus: (
    _: unknown,
    { input }: { input: { invoiceId: string; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) => startRun(ctx, 'syncInvoiceStatus', { invoiceId: input.invoiceId }, input.idempotencyKey),
  syncCustomer: (
    _: unknown,
    { input }: { input: { accountId: string; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) => startRun(ctx, 'syncCustomer', { accountId: input.accountId }, input.idempotencyKey),
  invoiceBilledWork: (
    _: unknown,
    { input }: { input: { projectId: string; period: string; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) => startRun(ctx, 'invoiceBilledWork', { projectId: input.projectId, period: input.period }, input.idempotencyKey),
  applyContractAmendment: (
    _: unknown,
    { input }: { input: { amendmentId: string; idempotencyKey?: string | null } },
    ctx: OrchestrationContext,
  ) => startRun(ctx, 'applyContractAmendment', { amendmentId: input.amendmentId }, input.idempotencyKey),
  retryRun: async (_: unknown, args: { id: string }, ctx: OrchestrationContext) => {
    const run = await ctx.ledger.retryRun(args.id, actorOf(ctx));
    manualTouches.inc({ flow: run.flow, action: 'retry' });
    ctx.runQueued();
    return run;
  },
  retryRunWithInput: async (
    _: unknown,
    args: { id: string; patch: Record<string, unknown> },
    ctx: OrchestrationContext,
  ) => {
    const raw = Object.fromEntries(Object.entries(args.patch).filter(([, v]) => v !== null && v !== undefined));
    if (Object.keys(raw).length === 0)
      throw new MeridianError('BAD_USER_INPUT', 'patch must correct at least one field', { field: 'patch' });
    const { flow, run } = await flowOf(ctx, args.id);
    const plan = planCorrection(flow, run, raw, ctx.governance);
    flow.parseInput({ ...run.input, ...plan.patch });
    const retried = await ctx.ledger.retryRun(args.id, actorOf(ctx), plan.patch, plan.rerun);
    manualTouches.inc({ flow: retried.flow, action: 'retry_with_input' });
    ctx.runQueued();
    return retried;
  },
  resolveException: async (_: unknown, args: { id: string; note: string }, ctx: OrchestrationContext) => {
    if (args.note.trim() === '')
      throw new MeridianError('BAD_USER_INPUT', 'note must say how the exception was resolved', { field: 'note' });
    const resolved = await ctx.ledger.resolveException(args.id, actorOf(ctx), args.note.trim());
    manualTouches.inc({ flow: resolved.flow, action: 'resolve' });
    return resolved;
  },
  abandonRun: async (_: unknown, args: { id: string }, ctx: OrchestrationContext) => {
    const run = await ctx.ledger.abandonRun(args.id, actorOf(ctx));
    manualTouches.inc({ flow: run.flow, action: 'abandon' });
    ctx.runQueued();
    return run;
  },
};
