import type { GraphQLError, ValidationRule } from 'graphql';
import { MeridianError } from '../../lib/errors';
import type { GatewayPolicy, PolicyConnection, PolicyOperation, PolicyRequest } from './policy';

/**
 * The gateway's policies as one ordered pipeline, independent of any transport: each transport's adapter calls these
 * stages at its own moments (`http.ts` per request, `graphql-ws.ts` per socket and per `subscribe`), so a policy
 * added to the list applies on every transport.
 */
export interface PolicyPipeline {
  /** The policies, in the order they run. */
  readonly policies: readonly GatewayPolicy[];
  /**
   * Admits one operation. `connection` set: the request is also a connection (HTTP), so each policy's `connect` runs
   * just before its `request`, in list order; without it (graphql-ws) only the `request` hooks run.
   * @throws MeridianError from the first policy that refuses.
   */
  admit(request: PolicyRequest, connecting: boolean): Promise<void>;
  /**
   * Opens a connection that carries many operations (a graphql-ws socket): every `connect` hook, in order.
   * @throws MeridianError from the first policy that refuses, after every `connectionRefused` hook has seen it.
   */
  connect(connection: PolicyConnection): Promise<void>;
  /** The smallest token limit any policy sets; undefined: none. */
  readonly maxTokens: number | undefined;
  /** Every policy's validation rules, to run with graphql-js's own. */
  readonly validationRules: readonly ValidationRule[];
  /** The coded refusal behind a parse error a policy caused, or null for a plain syntax error. */
  parseRefusal(error: GraphQLError, source: string): MeridianError | null;
  /**
   * Checks a parsed, validated operation.
   * @throws MeridianError (a GraphQLError with `extensions.code`) from the first policy that refuses.
   */
  checkOperation(operation: PolicyOperation): void;
}

/** Builds the pipeline; hooks are gathered once here, so the per-request path only walks short arrays. */
export function createPolicyPipeline(policies: readonly GatewayPolicy[]): PolicyPipeline {
  const names = new Set<string>();
  for (const p of policies) {
    if (names.has(p.name)) throw new Error(`policy '${p.name}' appears twice in the pipeline`);
    names.add(p.name);
  }
  const admitting = policies.filter((p) => p.connect || p.request);
  const connecting = policies.filter((p) => p.connect);
  const refusedHooks = policies.filter((p) => p.connectionRefused);
  const operations = policies.filter((p) => p.operation);
  const documents = policies.flatMap((p) => (p.document ? [p.document] : []));
  const tokenLimits = documents.flatMap((d) => (d.maxTokens === undefined ? [] : [d.maxTokens]));

  const connectOne = async (policy: GatewayPolicy, connection: PolicyConnection) => {
    try {
      await policy.connect!(connection);
    } catch (error) {
      if (!(error instanceof MeridianError)) throw error;
      for (const p of refusedHooks) await p.connectionRefused!(connection, error);
      throw error;
    }
  };

  return {
    policies,
    admit: async (request, withConnect) => {
      for (const policy of admitting) {
        if (withConnect && policy.connect) await connectOne(policy, request.connection);
        if (policy.request) await policy.request(request);
      }
    },
    connect: async (connection) => {
      for (const policy of connecting) await connectOne(policy, connection);
    },
    maxTokens: tokenLimits.length ? Math.min(...tokenLimits) : undefined,
    validationRules: documents.flatMap((d) => d.validationRules ?? []),
    parseRefusal: (error, source) => {
      for (const d of documents) {
        const refusal = d.parseRefusal?.(error, source);
        if (refusal) return refusal;
      }
      return null;
    },
    checkOperation: (operation) => {
      for (const policy of operations) policy.operation!(operation);
    },
  };
}
