// The generic batcher behind the session read: one query per event-loop turn, bounded batches, bounded concurrency.
import { TurnBatcher } from '../../src/shared';

interface Row {
  readonly key: string;
  readonly value: number;
}

/** A query that records each batch it gets and answers it when `release` is called. */
function recordingQuery(known: Readonly<Record<string, number>>) {
  const batches: string[][] = [];
  const pending: (() => void)[] = [];
  let failNext = false;
  const query = (keys: string[]): Promise<Row[]> => {
    batches.push(keys);
    const fail = failNext;
    failNext = false;
    return new Promise((resolve, reject) => {
      pending.push(() =>
        fail
          ? reject(new Error('query failed'))
          : resolve(keys.filter((key) => key in known).map((key) => ({ key, value: known[key] ?? 0 }))),
      );
    });
  };
  return {
    query,
    batches,
    /** Answers the oldest query still out. */
    release: () => pending.shift()?.(),
    failNextQuery: () => {
      failNext = true;
    },
  };
}

/** Lets the batcher's setImmediate and the promise callbacks run. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

it('answers the lookups of one turn with one query, and a missing key with undefined', async () => {
  const db = recordingQuery({ a: 1, b: 2 });
  const batcher = new TurnBatcher<Row>(db.query, (row) => row.key, { maxBatch: 16, maxInFlight: 2 });
  const found = [batcher.find('a'), batcher.find('b'), batcher.find('missing')];
  await nextTurn();
  expect(db.batches).toEqual([['a', 'b', 'missing']]);
  db.release();
  expect(await Promise.all(found)).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }, undefined]);
});

it('sends at most maxBatch keys per query and at most maxInFlight queries at once', async () => {
  const db = recordingQuery({});
  const batcher = new TurnBatcher<Row>(db.query, (row) => row.key, { maxBatch: 2, maxInFlight: 2 });
  const found = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'].map((key) => batcher.find(key));
  await nextTurn();
  expect(db.batches).toEqual([
    ['k1', 'k2'],
    ['k3', 'k4'],
  ]);
  // A batch coming back frees a slot: what waited goes out at once, without waiting for another turn.
  db.release();
  await nextTurn();
  expect(db.batches).toHaveLength(3);
  expect(db.batches[2]).toEqual(['k5', 'k6']);
  db.release();
  db.release();
  expect(await Promise.all(found)).toEqual([
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

it('rejects every lookup of a failed batch, and only those', async () => {
  const db = recordingQuery({ a: 1, c: 3 });
  const batcher = new TurnBatcher<Row>(db.query, (row) => row.key, { maxBatch: 1, maxInFlight: 2 });
  db.failNextQuery();
  const failed = batcher.find('a');
  const answered = batcher.find('c');
  await nextTurn();
  db.release();
  db.release();
  await expect(failed).rejects.toThrow('query failed');
  await expect(answered).resolves.toEqual({ key: 'c', value: 3 });
});
