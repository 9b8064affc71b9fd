import type { ProjectTemplateRecord } from '../connector/psa-connector';
import type { PsaContext } from '../context';

/** Template fields: the default rate card through its loader. */
export const ProjectTemplate = {
  rateCard: (t: ProjectTemplateRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.rateCard.load(t.rateCardId),
};
