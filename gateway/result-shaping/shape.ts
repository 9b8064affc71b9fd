import {
  isCompositeType,
  isCustomScalarType,
  isListType,
  isNonNullType,
  isObjectType,
  isSubtype,
  isValidLeafValue,
  type CompositeType,
  type EnumType,
  type ScalarType,
  type Operation,
  type Schema,
  type Selection,
  type SelectionSet,
  type Type,
} from '@apollo/federation-internals';

/**
 * One pass from the merged subgraph answers to the client's `data`, for the operations whose answers hold nothing
 * unusual — what `@apollo/gateway`'s `computeResponse` does by interpreting the operation at every object of the
 * answer, done here from a plan of the operation (each object type's fields in order, their `@skip`/`@include`
 * conditions and their types resolved once; `@apollo/gateway` hands over a new `Operation` per request, and planning
 * one takes microseconds). The objects it makes are ordinary ones with the same keys in the same order, so the
 * response serialiser takes V8's fast path over them (Apollo's null-prototype objects take the slow one).
 *
 * A response name selected more than once in one object (a field repeated through fragments) is planned as Apollo
 * merges it: the first selection's place, a leaf's value once, the sub-selections of an object concatenated.
 *
 * It answers only where its answer is certain to be Apollo's; for everything else — a null in a non-null field, a
 * value of the wrong type, an unknown `__typename`, introspection, a repeated response name under `@skip`/`@include`
 * — it says {@link NOT_SHAPED}, and Apollo's own `computeResponse` shapes that request (errors, null bubbling and all).
 */
export interface OperationShaper {
  /** `data` for this answer, or {@link NOT_SHAPED}. Reads `input`, never changes it. */
  shape(input: Record<string, unknown>, variables: Readonly<Record<string, unknown>> | undefined): unknown;
}

/** What {@link OperationShaper.shape} returns when Apollo's shaping must decide. */
export const NOT_SHAPED: unique symbol = Symbol('not shaped');

/** An operation the plan cannot take at all (it is shaped by Apollo every time). */
class Unsupported extends Error {}

/** `@skip(if:)` / `@include(if:)` on a selection: a literal is decided when planning, a variable on each request. */
interface Condition {
  skip: boolean;
  variable: string;
}

type ValuePlan =
  | { kind: 'nonNull'; of: ValuePlan }
  | { kind: 'list'; of: ValuePlan }
  | { kind: 'leaf'; type: ScalarType | EnumType; custom: boolean }
  | {
      kind: 'composite';
      type: CompositeType;
      /** More than one when the object's response name is selected more than once: merged, in order. */
      selectionSets: SelectionSet[];
      byTypename: Map<string | undefined, ObjectPlan>;
    };

interface FieldPlan {
  responseName: string;
  conditions: readonly Condition[] | null;
  /** null for `__typename`. */
  value: ValuePlan | null;
  /** For `__typename`: the name it answers when the object names no type of its own (null: Apollo must decide). */
  staticTypename: string | null;
}

type ObjectPlan = readonly FieldPlan[];

const hasOwn = Object.prototype.hasOwnProperty;
const TYPENAME = '__typename';

/**
 * The shaper of `operation` (over its schema, the API schema), or null when no plan can be made for its root fields:
 * an introspection field, a response name selected again under `@skip`/`@include`, or `__proto__` as a response name.
 */
export function compileOperationShaper(operation: Operation): OperationShaper | null {
  const schema = operation.schema();
  const rootType = schema.schemaDefinition.rootType(operation.rootKind);
  if (!rootType) return null;
  const root: ValuePlan = {
    kind: 'composite',
    type: rootType,
    selectionSets: [operation.selectionSet],
    byTypename: new Map(),
  };
  try {
    // The root's fields are planned now (a plan that cannot be made is known before the first answer); nested
    // objects' plans are made on the first answer that reaches them, per __typename met there.
    planFor(schema, root, undefined);
  } catch (error) {
    if (error instanceof Unsupported) return null;
    throw error;
  }
  return {
    shape(input, variables) {
      const context: ShapeContext = { schema, operation, variables: variables ?? EMPTY, defaults: null };
      try {
        return shapeComposite(context, root, input);
      } catch (error) {
        if (error instanceof Unsupported) return NOT_SHAPED;
        throw error;
      }
    },
  };
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** One request's shaping: its schema, and its variables (with the operation's defaults, read when first needed). */
interface ShapeContext {
  schema: Schema;
  operation: Operation;
  variables: Readonly<Record<string, unknown>>;
  defaults: Readonly<Record<string, unknown>> | null;
}

function planFor(
  schema: Schema,
  plan: Extract<ValuePlan, { kind: 'composite' }>,
  typename: string | undefined,
): ObjectPlan {
  const known = plan.byTypename.get(typename);
  if (known) return known;
  let objectType: CompositeType = plan.type;
  if (typename !== undefined) {
    const named = schema.type(typename);
    if (!named || !isCompositeType(named)) throw new Unsupported();
    objectType = named;
  }
  // By response name, in the order each was first selected (a Map keeps insertion order).
  const byResponseName = new Map<string, FieldPlan>();
  for (const selectionSet of plan.selectionSets)
    collectFields(schema, selectionSet, objectType, typename, null, byResponseName);
  const fields = [...byResponseName.values()];
  plan.byTypename.set(typename, fields);
  return fields;
}

/** The fields `selectionSet` asks of an object of `typename` (its fragments applied as Apollo applies them), in order. */
function collectFields(
  schema: Schema,
  selectionSet: SelectionSet,
  parentType: CompositeType,
  typename: string | undefined,
  inherited: readonly Condition[] | null,
  byResponseName: Map<string, FieldPlan>,
): void {
  for (const selection of selectionSet.selections()) {
    const conditions = conditionsOf(schema, selection, inherited);
    if (conditions === 'never') continue;
    if (selection.kind === 'FieldSelection') {
      const field = selection.element;
      if (field.definition.isSchemaIntrospectionField()) throw new Unsupported();
      const responseName = field.responseName();
      // `__proto__` would set the prototype of a plain object.
      if (responseName === '__proto__') throw new Unsupported();
      const earlier = byResponseName.get(responseName);
      if (earlier) {
        mergeInto(earlier, conditions, selection.selectionSet);
        continue;
      }
      let plan: FieldPlan;
      if (field.name === TYPENAME) {
        plan = {
          responseName,
          conditions,
          value: null,
          staticTypename: isObjectType(parentType) ? parentType.name : null,
        };
      } else {
        plan = {
          responseName,
          conditions,
          value: valuePlanOf(field.definition.type!, selection.selectionSet),
          staticTypename: null,
        };
      }
      byResponseName.set(responseName, plan);
    } else {
      const fragment = selection.element;
      const condition = fragment.typeCondition;
      if (condition && !typeConditionApplies(schema, condition, typename, parentType)) continue;
      collectFields(schema, selection.selectionSet, condition ?? parentType, typename, conditions, byResponseName);
    }
  }
}

/**
 * A response name selected again in the same object, as Apollo answers it: in the first selection's place; a leaf's
 * (or `__typename`'s) value once; an object's fields from both sub-selections, the first's first. Which selections
 * apply would be decided per request when either has conditions: not planned.
 */
function mergeInto(
  earlier: FieldPlan,
  conditions: readonly Condition[] | null,
  selectionSet: SelectionSet | undefined,
) {
  if (earlier.conditions || conditions) throw new Unsupported();
  if (earlier.value === null) return;
  let value: ValuePlan = earlier.value;
  while (value.kind === 'nonNull' || value.kind === 'list') value = value.of;
  if (value.kind === 'leaf') return;
  if (!selectionSet) throw new Unsupported();
  value.selectionSets.push(selectionSet);
}

function typeConditionApplies(
  schema: Schema,
  condition: CompositeType,
  typename: string | undefined,
  parentType: CompositeType,
): boolean {
  if (typename === undefined) return isSubtype(condition, parentType);
  const type = schema.type(typename);
  return !!type && isSubtype(condition, type);
}

function valuePlanOf(type: Type, selectionSet: SelectionSet | undefined): ValuePlan {
  if (isNonNullType(type)) return { kind: 'nonNull', of: valuePlanOf(type.ofType, selectionSet) };
  if (isListType(type)) return { kind: 'list', of: valuePlanOf(type.ofType, selectionSet) };
  if (isCompositeType(type)) {
    if (!selectionSet) throw new Unsupported();
    return { kind: 'composite', type, selectionSets: [selectionSet], byTypename: new Map() };
  }
  return { kind: 'leaf', type: type as ScalarType | EnumType, custom: isCustomScalarType(type) };
}

function conditionsOf(
  schema: Schema,
  selection: Selection,
  inherited: readonly Condition[] | null,
): readonly Condition[] | null | 'never' {
  const element = selection.element;
  if (element.appliedDirectives.length === 0) return inherited;
  let conditions = inherited;
  for (const [directive, skip] of [
    [schema.skipDirective(), true],
    [schema.includeDirective(), false],
  ] as const) {
    const applied = element.appliedDirectivesOf(directive)[0];
    if (!applied) continue;
    const arg: unknown = applied.arguments().if;
    if (typeof arg === 'boolean') {
      if (arg === skip) return 'never';
      continue;
    }
    const variable = (arg as { name?: unknown } | undefined)?.name;
    if (typeof variable !== 'string') throw new Unsupported();
    conditions = [...(conditions ?? []), { skip, variable }];
  }
  return conditions;
}

function applies(conditions: readonly Condition[], context: ShapeContext): boolean {
  for (const c of conditions) {
    // As Apollo reads them: the request's value, else the variable's default.
    let value: unknown;
    if (hasOwn.call(context.variables, c.variable)) value = context.variables[c.variable];
    else {
      context.defaults ??= context.operation.collectDefaultedVariableValues();
      value = context.defaults[c.variable];
    }
    if (typeof value !== 'boolean') throw new Unsupported();
    if (value === c.skip) return false;
  }
  return true;
}

function shapeComposite(
  context: ShapeContext,
  plan: Extract<ValuePlan, { kind: 'composite' }>,
  input: unknown,
): Record<string, unknown> {
  const schema = context.schema;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Unsupported();
  const typename = (input as Record<string, unknown>)[TYPENAME];
  if (typename !== undefined && typeof typename !== 'string') throw new Unsupported();
  const fields = planFor(schema, plan, typename);
  const output: Record<string, unknown> = {};
  for (const field of fields) {
    if (field.conditions && !applies(field.conditions, context)) continue;
    const name = field.responseName;
    let value = hasOwn.call(input, name) ? (input as Record<string, unknown>)[name] : undefined;
    if (field.value === null) {
      output[name] = typenameOf(schema, field, value, typename);
      continue;
    }
    if (value === undefined) value = null;
    output[name] = shapeValue(context, field.value, value);
  }
  return output;
}

function typenameOf(schema: Schema, field: FieldPlan, value: unknown, objectTypename: string | undefined): string {
  let name = value ?? null;
  if (name === null && field.responseName !== TYPENAME) name = objectTypename ?? null;
  if (typeof name === 'string') {
    const type = schema.type(name);
    if (type) {
      if (!isObjectType(type)) throw new Unsupported();
      return type.name;
    }
  }
  if (field.staticTypename === null) throw new Unsupported();
  return field.staticTypename;
}

function shapeValue(context: ShapeContext, plan: ValuePlan, value: unknown): unknown {
  switch (plan.kind) {
    case 'nonNull':
      if (value === null) throw new Unsupported();
      return shapeValue(context, plan.of, value);
    case 'list': {
      if (value === null) return null;
      if (!Array.isArray(value)) throw new Unsupported();
      const out = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) {
        const element: unknown = value[i];
        if (element === undefined) throw new Unsupported();
        out[i] = shapeValue(context, plan.of, element);
      }
      return out;
    }
    case 'composite':
      if (value === null) return null;
      return shapeComposite(context, plan, value);
    case 'leaf':
      if (value === null) return null;
      if (plan.custom || isValidLeafValue(context.schema, value, plan.type)) return value;
      throw new Unsupported();
  }
}
