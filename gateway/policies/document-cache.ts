import type { DocumentNode, GraphQLSchema } from 'graphql';

/** Entries kept per document before its entries are dropped and counted again. */
const DEFAULT_ENTRIES_PER_DOCUMENT = 64;

/**
 * A cache of what a policy computes from the document alone (plus a small key: an operation name, a scope set, the
 * values of the few variables that matter), per schema and parsed document. Apollo Server hands every request with
 * the same query text the same cached `DocumentNode`, so a hit skips the walk of the operation; entries go with the
 * document or the schema (weak keys), and a document holds at most `entriesPerDocument` of them.
 */
export function documentCache<V>(entriesPerDocument = DEFAULT_ENTRIES_PER_DOCUMENT) {
  const bySchema = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, V>>>();
  return (schema: GraphQLSchema, document: DocumentNode, key: string, compute: () => V): V => {
    let byDocument = bySchema.get(schema);
    if (!byDocument) bySchema.set(schema, (byDocument = new WeakMap()));
    let entries = byDocument.get(document);
    if (!entries) byDocument.set(document, (entries = new Map()));
    const hit = entries.get(key);
    if (hit !== undefined || entries.has(key)) return hit as V;
    const value = compute();
    if (entries.size >= entriesPerDocument) entries.clear();
    entries.set(key, value);
    return value;
  };
}
