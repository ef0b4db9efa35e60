// The targets, and how this run's figures measure up to them (reported, never asserted).
import type { PassResult } from './load';
import type { MemoryPeak } from './processes';
import { kindOf, percent } from './passes';
import { rate, type Row, type Target } from './report';

/** Targets of the issue. */
export const TARGET = {
  loginShareOfBcrypt: 0.9,
  restShareOfBare: 0.6,
  restP99AtHalfMs: 10,
  graphqlShareOfApollo: 0.85,
  floodProfileP99Ms: 50,
  flood503WithinMs: 100,
  rssMiB: 200,
  distinctSessions: 1000,
} as const;

/** The flood offers this many times the measured login capacity. */
export const FLOOD_FACTOR = 3;

/** What the targets are judged on besides the table's rows: the SQLite run's half-rate pass, flood and memory. */
export interface TargetInputs {
  readonly restHalf: PassResult;
  readonly flood: PassResult | null;
  readonly memory: MemoryPeak;
  readonly sessions: number;
}

/** The row with its ratio to its baseline row filled in (or no baseline, when that row is missing or zero). */
export function withRatio(rows: readonly Row[], row: Row): Row {
  if (row.baselineId === null) return row;
  const baseline = rows.find((r) => r.id === row.baselineId);
  if (baseline === undefined || baseline.perSecond === 0) return { ...row, baselineId: null };
  return { ...row, ratio: row.perSecond / baseline.perSecond };
}

/** Each target of the issue, measured on the SQLite run, as met or not met. */
export function evaluateTargets(rows: readonly Row[], sqlite: TargetInputs): Target[] {
  const row = (id: string): Row | undefined => rows.find((r) => r.id === id);
  const targets: Target[] = [];
  const loginRow = row('login-sqlite');
  if (loginRow !== undefined && loginRow.ratio !== null) {
    targets.push({
      id: 'login',
      description: `login >= ${percent(TARGET.loginShareOfBcrypt)} of raw bcrypt compares/s`,
      measured: percent(loginRow.ratio),
      met: loginRow.ratio >= TARGET.loginShareOfBcrypt,
    });
  }
  const rest = row('rest-profile-sqlite');
  if (rest !== undefined && rest.ratio !== null) {
    targets.push({
      id: 'rest-profile',
      description: `REST /profile >= ${percent(TARGET.restShareOfBare)} of bare Fastify`,
      measured: percent(rest.ratio),
      met: rest.ratio >= TARGET.restShareOfBare,
    });
  }
  const half = row('rest-profile-half-sqlite');
  if (half !== undefined && half.p99Ms !== null) {
    targets.push({
      id: 'rest-profile-p99',
      description: `REST /profile p99 < ${TARGET.restP99AtHalfMs} ms at 50% of max`,
      measured: `${half.p99Ms.toFixed(2)} ms at ${rate(half.perSecond)}/s (load generator lag p99 ${(sqlite.restHalf.clientLagP99Ms ?? 0).toFixed(1)} ms)`,
      met: half.p99Ms < TARGET.restP99AtHalfMs && sqlite.restHalf.errors + sqlite.restHalf.timeouts === 0,
    });
  }
  const graphql = row('graphql-profile-sqlite');
  const bare = row('bare-fastify');
  if (graphql !== undefined && graphql.ratio !== null) {
    const ofBare = bare === undefined ? '-' : percent(graphql.perSecond / bare.perSecond);
    targets.push({
      id: 'graphql-profile',
      description: `GraphQL profile >= ${percent(TARGET.graphqlShareOfApollo)} of Apollo constant resolver`,
      measured: `${percent(graphql.ratio)} (${ofBare} of bare Fastify)`,
      met: graphql.ratio >= TARGET.graphqlShareOfApollo,
    });
  }
  if (sqlite.flood !== null) {
    const profile = kindOf(sqlite.flood, 'profile');
    const logins = kindOf(sqlite.flood, 'login');
    const profileP99 = profile.byStatus['200']?.p99Ms ?? null;
    targets.push({
      id: 'flood-profile-p99',
      description: `during a ${FLOOD_FACTOR}x login flood: profile p99 < ${TARGET.floodProfileP99Ms} ms`,
      measured: profileP99 === null ? 'no answers' : `${profileP99.toFixed(1)} ms`,
      met: profileP99 !== null && profileP99 < TARGET.floodProfileP99Ms,
    });
    const refused = logins.byStatus['503'];
    targets.push({
      id: 'flood-503-latency',
      description: `during the flood: excess logins answered 503 within ${TARGET.flood503WithinMs} ms (p99)`,
      measured:
        refused === undefined
          ? 'no 503 at all'
          : `p99 ${refused.p99Ms.toFixed(1)} ms, max ${refused.maxMs.toFixed(1)} ms, ${percent((logins.statuses['503'] ?? 0) / Math.max(1, logins.count))} of logins`,
      met: refused !== undefined && refused.p99Ms < TARGET.flood503WithinMs,
    });
    const unexpected = [profile, logins].reduce(
      (sum, k) =>
        sum +
        Object.entries(k.statuses)
          .filter(([status]) => !['200', '503', '429'].includes(status))
          .reduce((s, [, n]) => s + n, 0),
      sqlite.flood.errors + sqlite.flood.timeouts,
    );
    targets.push({
      id: 'flood-errors',
      description: 'during the flood: no errors other than 503/429',
      measured: `${unexpected} other errors`,
      met: unexpected === 0,
    });
  }
  const peak = Math.max(sqlite.memory.sampledPeakRssMiB ?? 0, sqlite.memory.vmHwmMiB ?? 0);
  targets.push({
    id: 'rss',
    description: `server RSS < ${TARGET.rssMiB} MB through the run`,
    measured: `${peak.toFixed(0)} MiB peak`,
    met: peak > 0 && peak < TARGET.rssMiB,
  });
  targets.push({
    id: 'sessions',
    description: `profile reads use >= ${TARGET.distinctSessions} distinct sessions`,
    measured: `${sqlite.sessions}`,
    met: sqlite.sessions >= TARGET.distinctSessions,
  });
  return targets;
}
