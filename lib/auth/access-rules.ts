import {
  getNamedType,
  getOperationAST,
  isAbstractType,
  isObjectType,
  isInterfaceType,
  Kind,
  valueFromASTUntyped,
  type DirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { MeridianError } from '../errors';
import type { Identity } from './identity';

/**
 * One declared access requirement: `@authenticated`, or `@requiresScopes(scopes: [[a, b], [c]])`, which is
 * met by (a AND b) OR c.
 */
export type Requirement = { kind: 'authenticated' } | { kind: 'scopes'; anyOf: string[][] };

/** Requirements by `Type.field` and by type name, read from an SDL; several on one key must all be met. */
export interface AccessRules {
  fields: Map<string, Requirement[]>;
  types: Map<string, Requirement[]>;
}

const TYPE_KINDS = new Set<string>([
  Kind.OBJECT_TYPE_DEFINITION,
  Kind.OBJECT_TYPE_EXTENSION,
  Kind.INTERFACE_TYPE_DEFINITION,
  Kind.INTERFACE_TYPE_EXTENSION,
  Kind.ENUM_TYPE_DEFINITION,
  Kind.ENUM_TYPE_EXTENSION,
  Kind.SCALAR_TYPE_DEFINITION,
  Kind.SCALAR_TYPE_EXTENSION,
]);

function requirementsOf(directives: readonly DirectiveNode[] | undefined): Requirement[] {
  const found: Requirement[] = [];
  for (const d of directives ?? []) {
    if (d.name.value === 'authenticated') found.push({ kind: 'authenticated' });
    if (d.name.value === 'requiresScopes') {
      const arg = d.arguments?.find((a) => a.name.value === 'scopes');
      const value = arg ? (valueFromASTUntyped(arg.value) as unknown) : [];
      const anyOf = Array.isArray(value)
        ? value.map((group) => (Array.isArray(group) ? group.map(String) : [String(group)]))
        : [];
      found.push({ kind: 'scopes', anyOf });
    }
  }
  return found;
}

function add(map: Map<string, Requirement[]>, key: string, requirements: Requirement[]): void {
  if (requirements.length === 0) return;
  map.set(key, [...(map.get(key) ?? []), ...requirements]);
}

/**
 * Reads `@authenticated` and `@requiresScopes` off the types and fields of an SDL: a subgraph's `schema.graphql`
 * or the composed supergraph, which keeps both directives.
 */
export function accessRulesOf(sdl: DocumentNode): AccessRules {
  const rules: AccessRules = { fields: new Map(), types: new Map() };
  for (const def of sdl.definitions) {
    if (!TYPE_KINDS.has(def.kind) || !('name' in def) || !def.name) continue;
    const typeName = def.name.value;
    add(rules.types, typeName, requirementsOf(def.directives));
    if ('fields' in def && def.fields) {
      for (const field of def.fields) {
        if (field.kind === Kind.FIELD_DEFINITION)
          add(rules.fields, `${typeName}.${field.name.value}`, requirementsOf(field.directives));
      }
    }
  }
  return rules;
}

/** True when `identity` meets every requirement; null identities meet none. */
export function satisfies(identity: Identity | null, requirements: readonly Requirement[]): boolean {
  if (requirements.length === 0) return true;
  if (!identity) return false;
  return requirements.every(
    (r) =>
      r.kind === 'authenticated' ||
      r.anyOf.some((all) => all.every((scope) => (identity.scopes as readonly string[]).includes(scope))),
  );
}

function describe(requirements: readonly Requirement[]): string {
  const scopes = requirements.filter((r): r is Extract<Requirement, { kind: 'scopes' }> => r.kind === 'scopes');
  if (scopes.length === 0) return 'an authenticated caller';
  return [...new Set(scopes.map((r) => r.anyOf.map((all) => all.join(' and ')).join(' or ')))].join(', and ');
}

/**
 * What `identity` lacks of `requirements`, in words: only the requirements it does not meet, and of each alternative
 * only the scopes it does not hold (`read:pii`, not `read:business and read:pii` to a token that has read:business).
 */
function describeMissing(identity: Identity, requirements: readonly Requirement[]): string {
  const held = new Set<string>(identity.scopes);
  const unmet = requirements.filter((r) => !satisfies(identity, [r]));
  return describe(
    unmet.map((r) =>
      r.kind === 'scopes' ? { ...r, anyOf: r.anyOf.map((all) => all.filter((s) => !held.has(s))) } : r,
    ),
  );
}

/** Most access errors reported for one operation; the rest are counted in the last message. */
export const MAX_ACCESS_ERRORS = 20;

/**
 * Checks every field, fragment type condition and entity type an operation selects against `rules`, before anything
 * runs. Returns UNAUTHENTICATED errors for an anonymous caller and FORBIDDEN errors for a caller without the scopes,
 * each with the response path of the field; an empty list when the operation is allowed.
 */
export function checkAccess(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rules: AccessRules,
  identity: Identity | null,
): MeridianError[] {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return [];
  const root = schema.getRootType(operation.operation);
  if (!root) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const errors: MeridianError[] = [];
  let denied = 0;
  const deny = (path: readonly (string | number)[], what: string, requirements: readonly Requirement[]) => {
    denied += 1;
    if (errors.length >= MAX_ACCESS_ERRORS) return;
    const code = identity ? 'FORBIDDEN' : 'UNAUTHENTICATED';
    const message = identity
      ? `${what} needs ${describeMissing(identity, requirements)}, which the ${identity.role} token of ${identity.subject} does not have`
      : `${what} needs ${describe(requirements)}: send a bearer token`;
    errors.push(new MeridianError(code, message, {}, path));
  };
  const checkType = (typeName: string, path: readonly (string | number)[]) => {
    const required = rules.types.get(typeName) ?? [];
    if (!satisfies(identity, required)) deny(path, `Type ${typeName}`, required);
    return required.length === 0 || satisfies(identity, required);
  };
  const walk = (
    parent: GraphQLCompositeType,
    selectionSet: SelectionSetNode,
    path: readonly (string | number)[],
    seen: Set<string>,
  ) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        if (!isObjectType(parent) && !isInterfaceType(parent)) continue;
        const field = parent.getFields()[name];
        if (!field) continue;
        const at = [...path, selection.alias?.value ?? name];
        const returned = getNamedType(field.type);
        const required = [
          ...(rules.fields.get(`${parent.name}.${name}`) ?? []),
          ...(rules.types.get(returned.name) ?? []),
        ];
        if (!satisfies(identity, required)) {
          deny(at, `${parent.name}.${name}`, required);
          continue;
        }
        if (selection.selectionSet && (isObjectType(returned) || isAbstractType(returned) || isInterfaceType(returned)))
          walk(returned, selection.selectionSet, at, seen);
        continue;
      }
      const typeName =
        selection.kind === Kind.INLINE_FRAGMENT
          ? selection.typeCondition?.name.value
          : fragments.get(selection.name.value)?.typeCondition.name.value;
      const set =
        selection.kind === Kind.INLINE_FRAGMENT
          ? selection.selectionSet
          : fragments.get(selection.name.value)?.selectionSet;
      if (!set) continue;
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        if (seen.has(selection.name.value)) continue;
        seen = new Set(seen).add(selection.name.value);
      }
      const conditioned = typeName ? schema.getType(typeName) : parent;
      if (!conditioned || !(isObjectType(conditioned) || isAbstractType(conditioned))) continue;
      // A type condition only narrows within an already-checked field, except under `_entities`, where it picks the entity.
      if (typeName && isAbstractType(parent) && !checkType(typeName, path)) continue;
      walk(conditioned, set, path, seen);
    }
  };
  walk(root, operation.selectionSet, [], new Set());
  if (denied > errors.length && errors.length > 0) {
    const last = errors[errors.length - 1]!;
    errors[errors.length - 1] = new MeridianError(
      last.code,
      `${last.message} (and ${denied - errors.length} more fields denied)`,
      {},
      last.path,
    );
  }
  return errors;
}
