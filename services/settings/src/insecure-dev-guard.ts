import { isIP } from 'node:net';

/**
 * AUTH_MODE=insecure-dev trusts every caller with every account, staff permissions included.
 * It is for one developer's machine: it binds loopback by default, refuses any other address,
 * and refuses a production process (NODE_ENV=production, which the container image sets).
 */

/** The bind address when GRPC_HOST is empty: loopback without authentication, every interface with it. */
export function defaultGrpcHost(authMode: 'jwt' | 'insecure-dev'): string {
  return authMode === 'insecure-dev' ? '127.0.0.1' : '0.0.0.0';
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function insecureDevProblems(config: { AUTH_MODE: string; GRPC_HOST: string }, nodeEnv: string | undefined): string[] {
  if (config.AUTH_MODE !== 'insecure-dev') return [];
  const problems: string[] = [];
  if (nodeEnv === 'production') {
    problems.push('AUTH_MODE=insecure-dev is refused when NODE_ENV=production (use AUTH_MODE=jwt; `npm run token` mints development tokens)');
  }
  if (!isLoopbackHost(config.GRPC_HOST)) {
    problems.push(`AUTH_MODE=insecure-dev binds loopback only; GRPC_HOST=${config.GRPC_HOST} would let anyone on the network read and write every account (use AUTH_MODE=jwt)`);
  }
  return problems;
}
