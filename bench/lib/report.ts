// The benchmark's outputs: the table on stdout, the JSON record, and an SVG chart drawn by hand (no chart library).
import { writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';

/** One row of the table: a scenario or a baseline, on one database. */
export interface Row {
  readonly id: string;
  readonly label: string;
  /** Where it ran: the service's database, or "baseline". */
  readonly database: string;
  /** What it is measured in: successful requests (or compares) per second. */
  readonly perSecond: number;
  readonly unit: string;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** The baseline row it is compared with, and the ratio perSecond / baseline.perSecond. */
  readonly baselineId: string | null;
  readonly ratio: number | null;
  readonly note: string;
  /** Everything else the scenario measured (statuses, other kinds' rates and latencies). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** A target of the issue, evaluated on this run's figures. */
export interface Target {
  readonly id: string;
  readonly description: string;
  readonly measured: string;
  readonly met: boolean;
}

/** Everything one run produced, as written to latest.json. */
export interface Report {
  readonly date: string;
  readonly mode: 'quick' | 'full';
  readonly machine: Readonly<Record<string, string | number>>;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly rows: readonly Row[];
  readonly targets: readonly Target[];
  readonly memory: Readonly<Record<string, number | null>>;
  readonly notes: readonly string[];
}

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** A rate with thousands separators and no false precision: 18,342 and 7.9. */
export function rate(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

/** The table as Markdown (it reads fine on a terminal too), followed by the targets. */
export function renderTable(report: Report): string {
  const header = ['scenario', 'db', 'per s', 'p50 ms', 'p99 ms', 'vs baseline', 'note'];
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_h, i) => (i >= 2 && i <= 5 ? '---:' : '---')).join(' | ')} |`,
  ];
  for (const row of report.rows) {
    const vs = row.ratio === null ? '' : `${Math.round(row.ratio * 100)}% of ${row.baselineId ?? ''}`;
    lines.push(
      `| ${[
        row.label,
        row.database,
        `${rate(row.perSecond)} ${row.unit}`,
        fixed(row.p50Ms, 2),
        fixed(row.p99Ms, 2),
        vs,
        row.note,
      ].join(' | ')} |`,
    );
  }
  const targets = [
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...report.targets.map((t) => `| ${t.description} | ${t.measured} | ${t.met ? 'met' : 'NOT met'} |`),
  ];
  return [...lines, ...targets].join('\n');
}

/** Writes the JSON record, formatted as Prettier would (the repository's lint checks JSON files too). */
export async function writeJson(path: string, report: Report): Promise<void> {
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(JSON.stringify(report), { ...options, parser: 'json' }));
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const CHART = {
  width: 1060,
  rowHeight: 22,
  top: 64,
  labelWidth: 380,
  panelWidth: 300,
  gap: 40,
  bottom: 40,
} as const;

/** Where `value` falls on a log scale from `min` to `max`, as a fraction of the panel. */
function logFraction(value: number, min: number, max: number): number {
  if (value <= min) return 0;
  return Math.min(1, Math.log10(value / min) / Math.log10(max / min));
}

/**
 * Two horizontal bar panels side by side, one row per scenario: throughput and p99 latency, both on log scales
 * (logins run at a few per second and profile reads at thousands; a linear axis would hide one or the other).
 */
export function renderSvg(report: Report): string {
  const rows = report.rows;
  const height = CHART.top + rows.length * CHART.rowHeight + CHART.bottom;
  const throughputX = CHART.labelWidth;
  const latencyX = CHART.labelWidth + CHART.panelWidth + CHART.gap;
  const maxRate = Math.max(...rows.map((r) => r.perSecond), 10);
  const rateMin = 1;
  const rateMax = 10 ** Math.ceil(Math.log10(maxRate));
  const latencyMin = 0.1;
  const latencyMax = 10 ** Math.ceil(Math.log10(Math.max(...rows.map((r) => r.p99Ms ?? 0), 10)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART.width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">user-auth-service benchmark, ${escapeXml(report.date)} (${report.mode})</text>`,
    `<text x="10" y="38" fill="#555">${escapeXml(`${report.machine.cpu} x${report.machine.nproc}, node ${report.machine.node}; bcrypt cost ${report.settings.bcryptRounds}; grey: baselines`)}</text>`,
    `<text x="${throughputX}" y="${CHART.top - 8}" font-weight="bold">throughput per second (log)</text>`,
    `<text x="${latencyX}" y="${CHART.top - 8}" font-weight="bold">p99 latency, ms (log)</text>`,
  ];
  for (let tick = rateMin; tick <= rateMax; tick *= 10) {
    const x = (throughputX + logFraction(tick, rateMin, rateMax) * CHART.panelWidth).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${CHART.top}" x2="${x}" y2="${height - CHART.bottom}" stroke="#ddd"/>`,
      `<text x="${x}" y="${height - CHART.bottom + 14}" text-anchor="middle" fill="#555">${tick.toLocaleString('en-US')}</text>`,
    );
  }
  for (let tick = latencyMin; tick <= latencyMax * 1.0001; tick *= 10) {
    const x = (latencyX + logFraction(tick, latencyMin, latencyMax) * CHART.panelWidth).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${CHART.top}" x2="${x}" y2="${height - CHART.bottom}" stroke="#ddd"/>`,
      `<text x="${x}" y="${height - CHART.bottom + 14}" text-anchor="middle" fill="#555">${Number(tick.toPrecision(1))}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = CHART.top + i * CHART.rowHeight;
    const baseline = row.database === 'baseline';
    const colour = baseline ? '#9e9e9e' : row.database === 'postgresql' ? '#336791' : '#2e7d32';
    const barWidth = logFraction(row.perSecond, rateMin, rateMax) * CHART.panelWidth;
    parts.push(
      `<text x="${CHART.labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(`${row.label} (${row.database})`)}</text>`,
      `<rect x="${throughputX}" y="${y + 4}" width="${barWidth.toFixed(1)}" height="${CHART.rowHeight - 8}" fill="${colour}"/>`,
      `<text x="${(throughputX + barWidth + 4).toFixed(1)}" y="${y + 15}" fill="#333">${escapeXml(rate(row.perSecond))}</text>`,
    );
    if (row.p99Ms !== null) {
      const latencyWidth = logFraction(row.p99Ms, latencyMin, latencyMax) * CHART.panelWidth;
      parts.push(
        `<rect x="${latencyX}" y="${y + 4}" width="${latencyWidth.toFixed(1)}" height="${CHART.rowHeight - 8}" fill="${colour}" opacity="0.7"/>`,
        `<text x="${(latencyX + latencyWidth + 4).toFixed(1)}" y="${y + 15}" fill="#333">${fixed(row.p99Ms, 1)}</text>`,
      );
    }
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
