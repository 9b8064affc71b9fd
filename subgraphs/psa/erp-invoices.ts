import { identityOf } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import { MeridianError } from '../../lib/errors';
import { REQUEST_ID_HEADER } from '../../lib/graphql-http';

/**
 * Where the PSA's system API looks up an ERP invoice before it marks a milestone invoiced on it: the invoice must
 * exist and bill the milestone's own account. Null: the invoice does not exist.
 */
export interface ErpInvoices {
  accountOf(invoiceId: string, requestId: string): Promise<{ accountId: string | null } | null>;
}

/** The PSA's own service identity on its calls to the ERP: it reads business records and nothing else. */
const PSA_SERVICE = identityOf('psa', 'service', [], null);

/** How long the lookup may take before the mutation fails with SUBGRAPH_UNAVAILABLE. */
const LOOKUP_TIMEOUT_MS = 10_000;

/**
 * {@link ErpInvoices} over the ERP subgraph's `invoice(id) { account { id } }`, each request signed with the ERP's
 * secret as every subgraph requires. `target` is read at each call, so a stack may start the PSA before the ERP.
 */
export function erpInvoicesOverGraphQL(target: () => { url: string; secret: string }): ErpInvoices {
  return {
    async accountOf(invoiceId, requestId) {
      const { url, secret } = target();
      const body = JSON.stringify({
        query: 'query PsaInvoiceAccount($id: ID!) { invoice(id: $id) { id account { id } } }',
        variables: { id: invoiceId },
      });
      let parsed: { data?: { invoice: { account: { id: string } | null } | null }; errors?: { message: string }[] };
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [REQUEST_ID_HEADER]: requestId,
            ...signRequest(secret, body, PSA_SERVICE),
          },
          body,
          signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
        });
        parsed = (await response.json()) as typeof parsed;
      } catch (error) {
        throw new MeridianError(
          'SUBGRAPH_UNAVAILABLE',
          `The PSA could not check invoice '${invoiceId}' with the ERP (${(error as Error).message}); try again`,
          { value: invoiceId },
        );
      }
      if (!parsed.data || parsed.errors?.length)
        throw new MeridianError(
          'SUBGRAPH_UNAVAILABLE',
          `The PSA could not check invoice '${invoiceId}' with the ERP: ${parsed.errors?.[0]?.message ?? 'no data'}`,
          { value: invoiceId },
        );
      const invoice = parsed.data.invoice;
      return invoice ? { accountId: invoice.account?.id ?? null } : null;
    },
  };
}
