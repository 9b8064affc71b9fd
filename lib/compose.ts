import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** One subgraph of a supergraph config: its name, routing URL and SDL file (absolute). */
export interface SupergraphSubgraph {
  name: string;
  routingUrl: string;
  schemaFile: string;
}

/**
 * Reads a rover-format supergraph config (`subgraphs.<name>.routing_url`, `schema.file` relative to the config).
 * @throws Error naming the config and the missing or malformed key.
 */
export function loadSupergraphConfig(path: string): SupergraphSubgraph[] {
  const config = parseYaml(readFileSync(path, 'utf8')) as {
    subgraphs?: Record<string, { routing_url?: unknown; schema?: { file?: unknown } }>;
  } | null;
  if (!config?.subgraphs || typeof config.subgraphs !== 'object') throw new Error(`${path}: no 'subgraphs' map`);
  return Object.entries(config.subgraphs).map(([name, sub]) => {
    if (typeof sub?.routing_url !== 'string') throw new Error(`${path}: subgraphs.${name}.routing_url must be a URL`);
    if (typeof sub.schema?.file !== 'string')
      throw new Error(`${path}: subgraphs.${name}.schema.file must name an SDL file`);
    return { name, routingUrl: sub.routing_url, schemaFile: resolve(dirname(path), sub.schema.file) };
  });
}

/** The outcome of a composition: the supergraph SDL, or the composition errors (with their codes). */
export type Composition =
  | { supergraphSdl: string; errors?: undefined }
  | { supergraphSdl?: undefined; errors: string[] };

/**
 * Composes the subgraphs' SDL files with `@apollo/composition`, as `rover supergraph compose` would.
 * `routingUrls` overrides the config's URLs by subgraph name (tests use ephemeral ports).
 */
export function composeSupergraph(
  subgraphs: readonly SupergraphSubgraph[],
  routingUrls: Record<string, string> = {},
): Composition {
  const services = subgraphs.map((s) => {
    try {
      return {
        name: s.name,
        url: routingUrls[s.name] ?? s.routingUrl,
        typeDefs: parse(readFileSync(s.schemaFile, 'utf8')),
      };
    } catch (error) {
      throw new Error(`${s.schemaFile}: ${(error as Error).message}`);
    }
  });
  const result = composeServices(services);
  if (result.errors)
    return {
      errors: result.errors.map((e) => `${(e.extensions.code as string | undefined) ?? 'ERROR'}: ${e.message}`),
    };
  return { supergraphSdl: result.supergraphSdl };
}
