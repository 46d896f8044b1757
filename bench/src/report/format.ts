import { fmt } from './svg';

/** How the report's text writes numbers: a ratio as ×n, milliseconds, a compact count. */
export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `×${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}` : 'n/a');
export const fmtMs = (v: number): string => fmt(v, 'ms');
export const fmtNumber = (v: number): string => fmt(v);
