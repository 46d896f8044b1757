/** A fixed bearer token, or a function returning the current one (called once per attempt, so it may refresh). */
export type TokenSource = string | (() => string | Promise<string>);

export async function authorizationHeader(token: TokenSource): Promise<string> {
  const value = typeof token === 'function' ? await token() : token;
  return `Bearer ${value}`;
}
