import { parseArgs } from 'node:util';
import { formatUsage, wantsHelp } from '../lib/cli';
import { ROLE_SCOPES, ROLES, type Role } from '../lib/auth/identity';
import { isProduction } from '../lib/auth/secrets';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET } from '../gateway/auth/auth-from-env';
import { mintToken } from '../gateway/auth/mint-token';

/*
 * `npm run token -- --role portal --account ACC-000001`: prints a bearer token the gateway accepts, signed with
 * JWT_SECRET (the development secret when unset) for JWT_ISSUER / JWT_AUDIENCE. For development and tests only: a real
 * deployment's tokens come from its identity provider, and this command refuses to run with NODE_ENV=production.
 */
const usage = `usage: npm run token -- --role <${ROLES.join('|')}> [--account <CRM account ID>]... [--scope read:pii] [--subject <name>] [--expires 12h]`;

const HELP = formatUsage({
  command: usage.replace(/^usage: /, ''),
  summary:
    'Prints a development bearer token the gateway accepts (signed with JWT_SECRET, else the development secret).\n' +
    "For development and tests only: a deployment's tokens come from its identity provider; refused in production.",
  options: [
    ['--role ROLE', `the token's role: ${ROLES.join(', ')} (docs/security.md)`],
    ['--account ID', 'a CRM account a portal token may see (ACC-000001); repeat for several; portal only'],
    ['--scope SCOPE', 'an extra scope the role may be granted, e.g. read:pii; repeatable'],
    ['--subject NAME', 'the sub claim (default dev-<role>, or portal-<first account>)'],
    ['--expires TIME', 'lifetime, as jose reads it: 30m, 12h, 7d (default 12h)'],
  ],
  env: [
    ['JWT_SECRET', 'HS256 key to sign with (default: the development secret)'],
    ['JWT_ISSUER, JWT_AUDIENCE', 'iss and aud claims (default meridian-dev, meridian)'],
  ],
});

function main(): void {
  const env = process.env;
  if (wantsHelp()) {
    console.log(HELP);
    return;
  }
  if (isProduction(env))
    throw new Error('npm run token mints development tokens; it does not run with NODE_ENV=production');
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      account: { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      subject: { type: 'string' },
      expires: { type: 'string', default: '12h' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const role = values.role as Role | undefined;
  if (!role || !ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}\n${usage}`);
  const accounts = values.account ?? [];
  if (role === 'portal' && accounts.length === 0)
    throw new Error(`a portal token needs at least one --account (a CRM account ID such as ACC-000001)\n${usage}`);
  if (role !== 'portal' && accounts.length > 0)
    throw new Error('--account is for portal tokens only; other roles see every account');
  const scopes = values.scope ?? [];
  const refused = scopes.filter((s) => !ROLE_SCOPES[role].grantable.includes(s as never));
  if (refused.length)
    throw new Error(
      `the ${role} role cannot be granted ${refused.join(', ')} (grantable: ${ROLE_SCOPES[role].grantable.join(', ') || 'nothing'})`,
    );
  void mintToken({
    secret: env.JWT_SECRET || DEV_JWT_SECRET,
    issuer: env.JWT_ISSUER || DEV_ISSUER,
    audience: env.JWT_AUDIENCE || DEV_AUDIENCE,
    subject: values.subject ?? (role === 'portal' ? `portal-${accounts[0]}` : `dev-${role}`),
    role,
    scopes,
    accounts,
    expiresIn: values.expires,
  }).then((token) => console.log(token));
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
