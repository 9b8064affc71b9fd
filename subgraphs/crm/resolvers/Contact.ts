import type { ContactRecord } from '../connector/crm-connector';
import type { CrmContext } from '../context';

export const Contact = {
  account: (contact: ContactRecord, _args: unknown, ctx: CrmContext) => ctx.loaders.account.load(contact.accountId),
};
