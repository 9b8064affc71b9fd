import type { AccessRules } from '../../lib/auth/access-rules';
import type { Authenticator } from '../auth/authenticator';
import type { OperationLimits } from '../plugins/operation-limits';
import type { RateLimiter } from '../plugins/rate-limit';
import { accessRules } from './access-rules';
import { authentication } from './authentication';
import { operationLimits } from './operation-limits';
import { createPolicyPipeline, type PolicyPipeline } from './pipeline';
import type { GatewayPolicy } from './policy';
import { rateLimit } from './rate-limit';
import { refuseBatches } from './refuse-batches';
import { trustedDocuments, type TrustedDocumentsSetting } from './trusted-documents';

/** What the gateway's policies are configured with. */
export interface GatewayPolicySettings {
  authenticate: Authenticator;
  rateLimiter: RateLimiter;
  trusted: TrustedDocumentsSetting;
  limits: OperationLimits;
  accessRules: AccessRules;
}

/**
 * The gateway's policies, in the order every transport runs them. Per stage (connect, request, document, operation;
 * see {@link GatewayPolicy}) the earlier policy in this list decides first:
 *
 * 1. `refuse-batches`: a batched HTTP body, before anything is spent on it.
 * 2. `authentication`: the bearer token, per HTTP request or graphql-ws socket.
 * 3. `rate-limit`: per operation, under the caller's identity (a bad token: its address).
 * 4. `trusted-documents`: roles limited to the manifest, before their document is parsed.
 * 5. `access-rules`: `@authenticated` / `@requiresScopes`, once the operation is parsed and validated.
 * 6. `operation-limits`: tokens at parse, depth / aliases / directives at validation, cost after access.
 *
 * To add a policy: a module in this folder returning a {@link GatewayPolicy}, placed here; both transports then run it.
 */
export function gatewayPolicies(settings: GatewayPolicySettings): GatewayPolicy[] {
  return [
    refuseBatches(),
    authentication(settings.authenticate),
    rateLimit(settings.rateLimiter),
    trustedDocuments(settings.trusted),
    accessRules(settings.accessRules),
    operationLimits(settings.limits),
  ];
}

/** {@link gatewayPolicies} as a pipeline, ready for the transport adapters. */
export function gatewayPolicyPipeline(settings: GatewayPolicySettings): PolicyPipeline {
  return createPolicyPipeline(gatewayPolicies(settings));
}

export type { GatewayPolicy, PolicyConnection, PolicyOperation, PolicyRequest } from './policy';
export type { PolicyPipeline } from './pipeline';
