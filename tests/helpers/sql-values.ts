// Raw SQL values in one form whatever the database: SQLite and PostgreSQL hand back dates differently.

/**
 * A date column's value as epoch milliseconds. SQLite stores MikroORM datetimes as epoch milliseconds; PostgreSQL
 * returns timestamptz as text ("2027-01-10 10:29:52.043+00") through MikroORM's raw execute. Null stays null.
 */
export function epochMs(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return Number(value);
    const iso = value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) throw new TypeError(`not a date: ${value}`);
    return ms;
  }
  throw new TypeError(`not a date: ${typeof value}`);
}

/** A row with the named date columns turned into epoch milliseconds (see epochMs). */
export function withEpochDates<T extends Record<string, unknown>>(row: T, columns: readonly (keyof T)[]): T {
  const copy: Record<string, unknown> = { ...row };
  for (const column of columns) copy[column as string] = epochMs(row[column]);
  return copy as T;
}
