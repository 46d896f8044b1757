import { parseArgs } from 'node:util';
import { ID_PATTERN, localDevJwtHs256Secret } from '@settings/shared';
import { settingsEnvSchema } from '../config';
import { jose } from '../grpc/jose';
import { API_SCOPES } from '../grpc/scopes';

/**
 * Development command: mint an HS256 bearer token the settings service accepts in AUTH_MODE=jwt.
 *
 *   npm run -s token -- --account acme --scope settings.read          # local stack's secret
 *   JWT_HS256_SECRET=... node services/settings/dist/src/admin/dev-token.js --account acme --account beta \
 *       --scope 'settings.read settings.write' --sub billing-service --ttl 1h
 *
 * The secret is `--secret`, else JWT_HS256_SECRET, else — only with SETTINGS_LOCAL_STACK=1, which
 * the npm script sets — the local stack's public development secret. Anything else is refused:
 * a token for a real deployment is issued by its identity provider, not by this command.
 * Prints only the token on stdout (for `TOKEN=$(...)`); a summary goes to stderr.
 */

export class UsageError extends Error {}

export interface DevTokenRequest {
  readonly accounts: readonly string[];
  readonly scopes: readonly string[];
  readonly subject: string;
  readonly ttl: string;
  readonly secret: string;
  readonly issuer: string;
  readonly audience: string;
}

const USAGE = `usage: npm run -s token -- --account <id|*> [--account <id>]... [--scope '<scope> ...'] [--sub <subject>] [--ttl 1h] [--secret <s>]
scopes: ${API_SCOPES.join(', ')} (default: settings.read)`;

export function parseDevTokenArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DevTokenRequest {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        account: { type: 'string', multiple: true },
        scope: { type: 'string', multiple: true },
        sub: { type: 'string', default: 'dev-user' },
        ttl: { type: 'string', default: '1h' },
        secret: { type: 'string' },
        issuer: { type: 'string', default: env.JWT_ISSUER || settingsEnvSchema.JWT_ISSUER.default },
        audience: { type: 'string', default: env.JWT_AUDIENCE || settingsEnvSchema.JWT_AUDIENCE.default },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const accounts = values.account ?? [];
  if (accounts.length === 0) throw new UsageError(`--account is required\n${USAGE}`);
  const badAccounts = accounts.filter((a) => a !== '*' && !ID_PATTERN.test(a));
  if (badAccounts.length > 0) throw new UsageError(`not an account id: ${badAccounts.join(', ')} (must match ${ID_PATTERN.source}, or * for all)`);
  // The service refuses a token without a subject (UNAUTHENTICATED) or scopes (PERMISSION_DENIED):
  // such a token is a usage error here, not a token that can never work.
  if (values.sub.trim() === '') throw new UsageError(`--sub must not be empty\n${USAGE}`);
  const scopes = (values.scope ?? ['settings.read']).flatMap((s) => s.split(' ')).filter(Boolean);
  if (scopes.length === 0) throw new UsageError(`--scope must name at least one scope\n${USAGE}`);
  const unknown = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}\n${USAGE}`);
  if (!/^\d+[smhd]$/.test(values.ttl)) throw new UsageError(`--ttl must be a number and a unit (s, m, h, d), e.g. 15m or 1h; got ${values.ttl}`);
  const secret = values.secret ?? (env.JWT_HS256_SECRET || (env.SETTINGS_LOCAL_STACK === '1' ? localDevJwtHs256Secret : ''));
  if (secret === '') {
    throw new UsageError('no signing secret: pass --secret or set JWT_HS256_SECRET (the local stack\'s own secret is used only with SETTINGS_LOCAL_STACK=1, as `npm run token` does)');
  }
  if (Buffer.byteLength(secret) < 32) throw new UsageError('the secret must be at least 32 bytes, as the service requires');
  // parseArgs' types do not narrow options that have a default; these three always have one.
  return { accounts, scopes, subject: values.sub, ttl: values.ttl, secret, issuer: values.issuer!, audience: values.audience! };
}

export function mintDevToken(req: DevTokenRequest): Promise<string> {
  return new jose.SignJWT({ accounts: [...req.accounts], scope: req.scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(req.subject)
    .setIssuer(req.issuer)
    .setAudience(req.audience)
    .setIssuedAt()
    .setExpirationTime(req.ttl)
    .sign(new TextEncoder().encode(req.secret));
}

if (require.main === module) {
  (async () => {
    const req = parseDevTokenArgs(process.argv.slice(2), process.env);
    process.stdout.write(`${await mintDevToken(req)}\n`);
    process.stderr.write(`token for sub=${req.subject} accounts=${req.accounts.join(',')} scope="${req.scopes.join(' ')}" valid ${req.ttl}\n`);
  })().catch((err: unknown) => {
    process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  });
}
