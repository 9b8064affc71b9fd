/**
 * `@apollo/gateway` refuses a supergraph whose `@link`s are `for: SECURITY` features it cannot enforce itself
 * (`@authenticated`, `@requiresScopes`). This gateway enforces both (gateway/index.ts installs the access-control
 * plugin), so it hands the gateway the supergraph with those two links marked as ordinary features.
 */
export function withEnforcedSecurityFeatures(supergraphSdl: string): string {
  return supergraphSdl.replace(
    /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v[\d.]+"), for: SECURITY\)/g,
    '$1)',
  );
}
