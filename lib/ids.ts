/**
 * Digits each record ID is zero-padded to, per prefix, so text order is number order. Seed data and
 * records created at run time share these, so `nextId` continues after the seeded ones.
 */
export const ID_WIDTH = {
  ACC: 6,
  CON: 7,
  OPP: 7,
  PRJ: 7,
  MS: 8,
  TE: 10,
  EXP: 9,
  RC: 6,
  TPL: 6,
  RES: 6,
  CUS: 6,
  INV: 9,
  PAY: 9,
  BL: 10,
  XREF: 8,
  CAM: 6,
} as const;

export type IdPrefix = keyof typeof ID_WIDTH;

/** `formatId('ACC', 7)` → `ACC-000007`. */
export function formatId(prefix: IdPrefix, n: number): string {
  return `${prefix}-${String(n).padStart(ID_WIDTH[prefix], '0')}`;
}
