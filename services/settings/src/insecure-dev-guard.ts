import { isIP } from 'node:net';
import { localDevJwtHs256Secret } from '@settings/shared';

/**
 * AUTH_MODE=insecure-dev trusts every caller with every account, staff permissions included.
 * It is for one developer's machine: it binds loopback by default, refuses any other address,
 * and refuses a production process (NODE_ENV=production, which the container image sets).
 *
 * The published development keys get the same fence under AUTH_MODE=jwt: with the local stack's
 * HS256 secret anyone can mint a token for every account and scope (`npm run token` does), and
 * with the development consistency key anyone can forge consistency tokens. Such a service is as
 * open as insecure-dev, so it binds loopback by default and refuses any other address and
 * NODE_ENV=production.
 */

/** The consistency-token key insecure-dev signs with when none is configured (public: in this file). */
export const INSECURE_DEV_TOKEN_SECRET = 'settings-insecure-dev-consistency-token-key';

interface GuardedConfig {
  AUTH_MODE: string;
  GRPC_HOST: string;
  JWT_HS256_SECRET: string;
  JWT_PREVIOUS_HS256_SECRET: string;
  CONSISTENCY_TOKEN_SECRET: string;
}

/** What makes this configuration trust anyone who read this repository, if anything. */
function publicKeysInUse(config: Omit<GuardedConfig, 'GRPC_HOST'>): string | undefined {
  if (config.AUTH_MODE === 'insecure-dev') return 'AUTH_MODE=insecure-dev';
  if (config.JWT_HS256_SECRET === localDevJwtHs256Secret) return "JWT_HS256_SECRET set to the local stack's public development secret";
  if (config.JWT_PREVIOUS_HS256_SECRET === localDevJwtHs256Secret) return "JWT_PREVIOUS_HS256_SECRET set to the local stack's public development secret";
  if (config.CONSISTENCY_TOKEN_SECRET === INSECURE_DEV_TOKEN_SECRET) return 'CONSISTENCY_TOKEN_SECRET set to the public development key';
  return undefined;
}

/** The bind address when GRPC_HOST is empty: loopback without real authentication, every interface with it. */
export function defaultGrpcHost(config: Omit<GuardedConfig, 'GRPC_HOST'>): string {
  return publicKeysInUse(config) ? '127.0.0.1' : '0.0.0.0';
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function insecureDevProblems(config: GuardedConfig, nodeEnv: string | undefined): string[] {
  const what = publicKeysInUse(config);
  if (what === undefined) return [];
  const problems: string[] = [];
  if (nodeEnv === 'production') {
    problems.push(`${what} is refused when NODE_ENV=production (use AUTH_MODE=jwt with keys of your own; \`npm run token -- --secret\` mints development tokens)`);
  }
  if (!isLoopbackHost(config.GRPC_HOST)) {
    problems.push(`${what} binds loopback only; GRPC_HOST=${config.GRPC_HOST} would let anyone on the network read and write every account (use AUTH_MODE=jwt with keys of your own)`);
  }
  return problems;
}
