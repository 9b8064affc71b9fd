import type { ProjectDimensionsRecord } from '../connector/erp-connector';
import type { ErpContext } from '../context';

export const ProjectDimensions = {
  customer: (d: ProjectDimensionsRecord, _args: unknown, ctx: ErpContext) => ctx.loaders.customer.load(d.customerId),
};
