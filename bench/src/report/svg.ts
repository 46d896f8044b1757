/**
 * Hand-written SVG charts (no chart library): horizontal bar charts, grouped bars and line
 * charts, sized for a Markdown page. Text is escaped; numbers are formatted compactly.
 */

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];
const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function fmt(v: number, unit = ''): string {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  let s: string;
  if (a >= 1e6) s = `${trim((v / 1e6).toFixed(a >= 1e7 ? 1 : 2))}M`;
  else if (a >= 1e4) s = `${trim((v / 1e3).toFixed(a >= 1e5 ? 0 : 1))}k`;
  else if (a >= 100) s = Math.round(v).toString();
  else if (a >= 10) s = trim(v.toFixed(1));
  else if (a >= 0.01 || a === 0) s = trim(v.toFixed(2));
  else s = v.toPrecision(2);
  return unit ? `${s} ${unit}` : s;
}

/** Rough text width at 12 px (no font metrics in a hand-written SVG). */
export function textWidth(s: string, px = 12): number {
  return s.length * px * 0.56;
}

function tick(v: number, step: number): string {
  return Number.isInteger(step) ? fmt(Math.round(v)) : fmt(v);
}

/** "2.50" → "2.5", "18.0" → "18". */
function trim(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">\n` +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n` +
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#222">${esc(title)}</text>\n`
  );
}

/** "Nice" tick step for a range, e.g. 0..873 → 200. */
function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

function barText(b: Bar, withLabel: boolean, unit: string): string {
  return `${withLabel ? `${b.label}: ` : ''}${fmt(b.value, unit)}${b.note ? ` ${b.note}` : ''}`;
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** Text after the value, e.g. "(×0.42)". */
  note?: string;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

/**
 * Horizontal bars in groups (one group = one category, bars inside = series). A group with a
 * single bar draws like a plain bar chart. Values are printed at the end of each bar.
 */
export function barChart(o: { title: string; unit: string; groups: BarGroup[]; width?: number; subtitle?: string; legend?: Array<{ label: string; color: string }> }): string {
  const width = o.width ?? 760;
  const labelW = Math.min(260, Math.max(90, ...o.groups.map((g) => textWidth(g.label) + 16)));
  const texts = o.groups.flatMap((g) => g.bars.map((b) => barText(b, g.bars.length > 1 && !o.legend?.length, o.unit)));
  const valueW = Math.min(360, Math.max(70, ...texts.map((t) => textWidth(t) + 12)));
  const barH = 18;
  const gap = 4;
  const groupGap = 14;
  const top = o.subtitle ? 52 : 40;
  const legendH = o.legend?.length ? 22 : 0;
  const plotW = width - labelW - valueW - 20;
  const max = Math.max(0, ...o.groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
  const step = niceStep(max);
  const axisMax = Math.max(step, Math.ceil(max / step) * step);
  const x = (v: number): number => labelW + (Math.max(0, v) / axisMax) * plotW;
  let y = top + legendH;
  const body: string[] = [];
  for (const g of o.groups) {
    const gh = g.bars.length * (barH + gap) - gap;
    const multi = g.bars.length > 1;
    body.push(`<text x="${labelW - 8}" y="${y + gh / 2 + 4}" text-anchor="end" fill="#222">${esc(g.label)}</text>`);
    g.bars.forEach((b, i) => {
      const by = y + i * (barH + gap);
      const color = b.color ?? PALETTE[i % PALETTE.length]!;
      const w = Number.isFinite(b.value) ? Math.max(1, x(b.value) - labelW) : 0;
      body.push(`<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${color}" rx="2"><title>${esc(`${g.label} ${b.label}: ${fmt(b.value, o.unit)}`)}</title></rect>`);
      const text = barText(b, multi && !o.legend?.length, o.unit);
      body.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${by + barH / 2 + 4}" fill="#333">${esc(text)}</text>`);
    });
    y += gh + groupGap;
  }
  const height = y + 26;
  const axis: string[] = [];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const xx = x(v).toFixed(1);
    axis.push(`<line x1="${xx}" y1="${top + legendH - 4}" x2="${xx}" y2="${y - groupGap + 4}" stroke="#e3e3e3"/>`);
    axis.push(`<text x="${xx}" y="${y - groupGap + 18}" text-anchor="middle" fill="#777" font-size="11">${esc(tick(v, step))}</text>`);
  }
  let lx = labelW;
  const legend = (o.legend ?? []).map((l) => {
    const item = `<rect x="${lx}" y="${top - 6}" width="12" height="12" fill="${l.color}"/><text x="${lx + 16}" y="${top + 4}" fill="#333">${esc(l.label)}</text>`;
    lx += 16 + textWidth(l.label) + 18;
    return item;
  });
  const sub = o.subtitle ? `<text x="12" y="40" fill="#666">${esc(o.subtitle)}</text>\n` : '';
  return `${svgOpen(width, height, o.title)}${sub}${axis.join('\n')}\n${legend.join('\n')}\n${body.join('\n')}\n<text x="${width - 12}" y="${height - 6}" text-anchor="end" fill="#999" font-size="10">${esc(o.unit)}</text>\n</svg>\n`;
}

export interface LineSeries {
  name: string;
  color?: string;
  points: Array<[number, number]>;
}

/** Line chart with shared axes, a legend, optional shaded x-ranges (e.g. the burst). */
export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
  bands?: Array<{ from: number; to: number; label: string }>;
  yMax?: number;
  subtitle?: string;
}): string {
  const width = o.width ?? 760;
  const height = o.height ?? 300;
  const left = 64;
  const right = 16;
  const top = o.subtitle ? 58 : 44;
  // Legend items flow left to right and wrap.
  const legendPos: Array<{ x: number; row: number }> = [];
  {
    let lx = 64;
    let row = 0;
    for (const s of o.series) {
      const w = 18 + textWidth(s.name) + 20;
      if (lx + w > width - 16 && lx > 64) {
        lx = 64;
        row++;
      }
      legendPos.push({ x: lx, row });
      lx += w;
    }
  }
  const legendRows = (legendPos[legendPos.length - 1]?.row ?? 0) + 1;
  const bottom = 40 + legendRows * 18;
  const pts = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
  const xMin = Math.min(0, ...pts.map((p) => p[0]));
  const xMaxRaw = Math.max(1, ...pts.map((p) => p[0]));
  const yMaxRaw = o.yMax ?? Math.max(1e-9, ...pts.map((p) => p[1]));
  const ys = niceStep(yMaxRaw);
  const yMax = Math.ceil(yMaxRaw / ys) * ys || ys;
  const xs = niceStep(xMaxRaw - xMin, 8);
  const xMax = Math.ceil(xMaxRaw / xs) * xs;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const X = (v: number): number => left + ((v - xMin) / (xMax - xMin || 1)) * plotW;
  const Y = (v: number): number => top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const out: string[] = [svgOpen(width, height, o.title)];
  if (o.subtitle) out.push(`<text x="12" y="40" fill="#666">${esc(o.subtitle)}</text>`);
  for (const b of o.bands ?? []) {
    out.push(`<rect x="${X(b.from).toFixed(1)}" y="${top}" width="${(X(b.to) - X(b.from)).toFixed(1)}" height="${plotH}" fill="#f6e7c8" opacity="0.6"/>`);
    out.push(`<text x="${(X(b.from) + 4).toFixed(1)}" y="${top + 12}" fill="#a07020" font-size="11">${esc(b.label)}</text>`);
  }
  for (let v = 0; v <= yMax + 1e-9; v += ys) {
    out.push(`<line x1="${left}" y1="${Y(v).toFixed(1)}" x2="${width - right}" y2="${Y(v).toFixed(1)}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${left - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end" fill="#777" font-size="11">${esc(tick(v, ys))}</text>`);
  }
  for (let v = Math.ceil(xMin / xs) * xs; v <= xMax + 1e-9; v += xs) {
    out.push(`<line x1="${X(v).toFixed(1)}" y1="${top + plotH}" x2="${X(v).toFixed(1)}" y2="${top + plotH + 4}" stroke="#999"/>`);
    out.push(`<text x="${X(v).toFixed(1)}" y="${top + plotH + 17}" text-anchor="middle" fill="#777" font-size="11">${esc(tick(v, xs))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#999"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 32}" text-anchor="middle" fill="#555">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const d = s.points
      .filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]))
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`)
      .join(' ');
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"><title>${esc(s.name)}</title></path>`);
    const lx = legendPos[i]!.x;
    const ly = top + plotH + 48 + legendPos[i]!.row * 18;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="14" height="4" fill="${color}"/><text x="${lx + 18}" y="${ly - 3}" fill="#333">${esc(s.name)}</text>`);
  });
  out.push('</svg>\n');
  return out.join('\n');
}
