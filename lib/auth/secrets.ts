import { randomBytes } from 'node:crypto';

/** True when `NODE_ENV=production`: no development defaults, no introspection, nothing switched off. */
export function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production';
}

/** The environment variable holding the secret a subgraph's requests are signed with: `SUBGRAPH_SECRET_<NAME>`. */
export function subgraphSecretVar(name: string): string {
  return `SUBGRAPH_SECRET_${name.toUpperCase()}`;
}

/** Shortest secret accepted, in characters. */
export const MIN_SECRET_LENGTH = 32;

/**
 * The signing secret of subgraph `name` from `SUBGRAPH_SECRET_<NAME>`. Outside production a missing one falls back to a
 * fixed development secret (so separately started processes agree); in production it must be set.
 * @throws Error naming the variable when it is missing in production or shorter than {@link MIN_SECRET_LENGTH}.
 */
export function subgraphSecret(env: NodeJS.ProcessEnv, name: string): string {
  const variable = subgraphSecretVar(name);
  const value = env[variable];
  if (value === undefined || value === '') {
    if (isProduction(env))
      throw new Error(
        `${variable} must be set when NODE_ENV=production (at least ${MIN_SECRET_LENGTH} characters, shared by the gateway, the orchestration and the ${name} subgraph)`,
      );
    return `meridian-development-only-subgraph-secret-${name}`;
  }
  if (value.length < MIN_SECRET_LENGTH) throw new Error(`${variable} must be at least ${MIN_SECRET_LENGTH} characters`);
  return value;
}

/** A fresh random secret per subgraph, for a graph that runs in one process (`npm start`, tests). */
export function randomSecrets<TName extends string>(names: readonly TName[]): Record<TName, string> {
  return Object.fromEntries(names.map((n) => [n, randomBytes(32).toString('base64url')])) as Record<TName, string>;
}
