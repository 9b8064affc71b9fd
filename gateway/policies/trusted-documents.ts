import type { Role } from '../../lib/auth/identity';
import { admitTrustedDocument, admitTrustedRequest, type TrustedDocuments } from '../plugins/trusted-documents';
import type { GatewayPolicy } from './policy';

/** The manifest and the roles limited to it. */
export interface TrustedDocumentsSetting {
  manifest: TrustedDocuments;
  roles: readonly Role[];
}

/**
 * Callers whose role is in `roles` run only the manifest's operations, named by APQ hash or by exact text; the body
 * gets the manifest's text (a GET's URL cannot be rewritten and is only checked). Anything else:
 * PERSISTED_QUERY_NOT_IN_LIST. Other roles pass unchanged (and keep Apollo's automatic persisted queries over HTTP).
 */
export function trustedDocuments({ manifest, roles }: TrustedDocumentsSetting): GatewayPolicy {
  return {
    name: 'trusted-documents',
    codes: ['PERSISTED_QUERY_NOT_IN_LIST', 'BAD_REQUEST'],
    request(request) {
      const identity = request.connection.identity;
      if (request.getUrl !== null)
        admitTrustedRequest(manifest, identity, { method: 'GET', url: request.getUrl, body: request.body }, roles);
      else request.body = admitTrustedDocument(manifest, identity, request.body, roles);
    },
  };
}
