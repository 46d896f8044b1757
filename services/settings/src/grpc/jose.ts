import type * as Jose from 'jose';

// jose 6 ships only ES modules. Node >= 20.19 loads them with require(), but jest's CommonJS
// sandbox cannot, so the module is loaded through Node's own loader. In production this is
// exactly `require('jose')`.
const nativeRequire = process.getBuiltinModule('node:module').createRequire(__filename);

export const jose = nativeRequire('jose') as typeof Jose;
