// Latency distributions as an SVG of small multiples: one panel per job, one cumulative curve
// per kernel (x: completion latency in microseconds, log scale; y: fraction of I/Os). Pure:
// a string from numbers, no plotting dependency.

export interface CdfSeries {
  label: string;
  color: string;
  dashed?: boolean;
  /** percentiles (0-100) and the latency (us) at each */
  percentiles: readonly number[];
  latencyUs: readonly number[];
}

export interface CdfPanel {
  title: string;
  series: CdfSeries[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Decade ticks (1, 10, 100 ...) covering [lo, hi]. */
export function decadeTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

export function renderLatencyCdf(panels: readonly CdfPanel[], opts: { title: string; columns?: number } = { title: '' }): string {
  const columns = Math.max(1, Math.min(opts.columns ?? 3, panels.length || 1));
  const rows = Math.max(1, Math.ceil(panels.length / columns));
  const pw = 300;
  const ph = 200;
  const m = { l: 44, r: 10, t: 24, b: 34 };
  const head = 50;
  const width = columns * pw;
  const height = head + rows * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
  ];
  // legend: the series of the first panel name the kernels
  (panels[0]?.series ?? []).forEach((s, i) => {
    const x = 10 + i * 170;
    out.push(`<line x1="${x}" y1="36" x2="${x + 24}" y2="36" stroke="${esc(s.color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${x + 30}" y="40">${esc(s.label)}</text>`);
  });
  panels.forEach((panel, idx) => {
    const ox = (idx % columns) * pw;
    const oy = head + Math.floor(idx / columns) * ph;
    const w = pw - m.l - m.r;
    const h = ph - m.t - m.b;
    const values = panel.series.flatMap((s) => s.latencyUs.filter((v) => Number.isFinite(v) && v > 0));
    const lo = values.length ? Math.min(...values) : 1;
    const hi = values.length ? Math.max(...values) : 10;
    const ticks = decadeTicks(lo, hi);
    const lx0 = Math.log10(ticks[0]!);
    const lx1 = Math.max(lx0 + 1e-9, Math.log10(ticks[ticks.length - 1]!));
    const x = (v: number): number => ox + m.l + ((Math.log10(v) - lx0) / (lx1 - lx0)) * w;
    const y = (p: number): number => oy + m.t + h - (p / 100) * h;
    out.push(`<g>`);
    out.push(`<text x="${ox + m.l + w / 2}" y="${oy + 14}" text-anchor="middle" font-size="11">${esc(panel.title)}</text>`);
    out.push(`<rect x="${ox + m.l}" y="${oy + m.t}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
    for (const t of ticks) {
      const tx = num(x(t));
      out.push(`<line x1="${tx}" y1="${oy + m.t}" x2="${tx}" y2="${oy + m.t + h}" stroke="#eee"/>`);
      out.push(`<text x="${tx}" y="${oy + m.t + h + 12}" text-anchor="middle">${t >= 1000 ? `${t / 1000}ms` : `${t}us`}</text>`);
    }
    for (const p of [0, 50, 90, 100]) {
      out.push(`<text x="${ox + m.l - 4}" y="${num(y(p) + 3)}" text-anchor="end">${p}%</text>`);
      if (p > 0 && p < 100) out.push(`<line x1="${ox + m.l}" y1="${num(y(p))}" x2="${ox + m.l + w}" y2="${num(y(p))}" stroke="#eee"/>`);
    }
    out.push(`<text x="${ox + m.l + w / 2}" y="${oy + ph - 6}" text-anchor="middle" fill="#555">completion latency</text>`);
    for (const s of panel.series) {
      const pts = s.percentiles
        .map((p, i) => [p, s.latencyUs[i]!] as const)
        .filter(([, v]) => Number.isFinite(v) && v > 0)
        .map(([p, v]) => `${num(x(v))},${num(y(p))}`);
      if (pts.length === 0) continue;
      out.push(
        `<polyline fill="none" stroke="${esc(s.color)}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="5,3"' : ''} points="${pts.join(' ')}"><title>${esc(`${panel.title}: ${s.label}`)}</title></polyline>`,
      );
    }
    out.push(`</g>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
