import { Kind, parse, type ConstArgumentNode } from 'graphql';

/** A subgraph named in a supergraph: its name and routing URL. */
export interface SupergraphEndpoint {
  name: string;
  url: string;
}

/**
 * Lists the subgraphs of a composed supergraph from its `join__Graph` enum (`@join__graph(name:, url:)`).
 * @throws Error when the SDL is not a supergraph.
 */
export function subgraphsOf(supergraphSdl: string): SupergraphEndpoint[] {
  const graphEnum = parse(supergraphSdl).definitions.find(
    (d) => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'join__Graph',
  );
  if (!graphEnum || graphEnum.kind !== Kind.ENUM_TYPE_DEFINITION)
    throw new Error('Not a supergraph: it has no join__Graph enum');
  return (graphEnum.values ?? []).map((value) => {
    const args = value.directives?.find((d) => d.name.value === 'join__graph')?.arguments ?? [];
    const arg = (name: string) => {
      const v = args.find((a: ConstArgumentNode) => a.name.value === name)?.value;
      return v?.kind === Kind.STRING ? v.value : '';
    };
    return { name: arg('name') || value.name.value.toLowerCase(), url: arg('url') };
  });
}
