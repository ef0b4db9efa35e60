// The in-process counters: fixed windows by Date.now(), a hard cap on keys (least recently used go first), and a sweep.
import { RateLimiterRes } from 'rate-limiter-flexible';
import { BoundedCounters } from '../../src/abuse';

const START = new Date('2030-01-01T00:00:00.000Z');
let counters: BoundedCounters | undefined;

beforeEach(() => {
  jest.useFakeTimers();
  jest.setSystemTime(START);
});
afterEach(() => {
  counters?.close();
  counters = undefined;
  jest.useRealTimers();
});

/** Counters holding at most `maxKeys`, closed after the test. */
function bounded(maxKeys: number): BoundedCounters {
  counters = new BoundedCounters(maxKeys);
  return counters;
}

/** What a consume settled with: the result, or the refusal it rejected with. */
async function settle(promise: Promise<RateLimiterRes>): Promise<{ refused: boolean; res: RateLimiterRes }> {
  try {
    return { refused: false, res: await promise };
  } catch (refusal) {
    if (!(refusal instanceof RateLimiterRes)) throw refusal;
    return { refused: true, res: refusal };
  }
}

describe('BoundedLimiter', () => {
  it('admits `points` a window and refuses the next with the time left, as rate-limiter-flexible does', async () => {
    const limiter = bounded(100).limiter({ keyPrefix: 'login', points: 2, duration: 60 });
    expect((await settle(limiter.consume('a'))).refused).toBe(false);
    jest.setSystemTime(START.getTime() + 10_000);
    const second = await settle(limiter.consume('a'));
    expect(second).toMatchObject({ refused: false, res: { consumedPoints: 2, remainingPoints: 0 } });
    const third = await settle(limiter.consume('a'));
    expect(third.refused).toBe(true);
    expect(third.res.msBeforeNext).toBe(50_000);
    // Another key, or the same key under another prefix, has a budget of its own.
    expect((await settle(limiter.consume('b'))).refused).toBe(false);
    const other = counters?.limiter({ keyPrefix: 'reset', points: 1, duration: 60 });
    expect((await settle(other?.consume('a') ?? Promise.reject(new Error('no limiter')))).refused).toBe(
      false,
    );
  });

  it('opens a new window once the old one has ended', async () => {
    const limiter = bounded(100).limiter({ keyPrefix: 'k', points: 1, duration: 60 });
    await limiter.consume('a');
    expect((await settle(limiter.consume('a'))).refused).toBe(true);
    jest.setSystemTime(START.getTime() + 60_000);
    expect(await limiter.get('a')).toBeNull();
    const fresh = await settle(limiter.consume('a'));
    expect(fresh).toMatchObject({ refused: false, res: { consumedPoints: 1, isFirstInDuration: true } });
  });

  it('counts penalties without refusing, gives points back with reward, and takes a window length per consume', async () => {
    const limiter = bounded(100).limiter({ keyPrefix: 'k', points: 1, duration: 1 });
    expect((await limiter.penalty('a')).consumedPoints).toBe(1);
    expect((await limiter.penalty('a')).consumedPoints).toBe(2);
    expect((await limiter.reward('a')).consumedPoints).toBe(1);
    const gated = await settle(limiter.consume('gate', 1, { customDuration: 300 }));
    expect(gated.res.msBeforeNext).toBe(300_000);
    expect(await limiter.delete('gate')).toBe(true);
    expect(await limiter.delete('gate')).toBe(false);
    expect(await limiter.get('gate')).toBeNull();
  });
});

describe('BoundedCounters', () => {
  it('never holds more than maxKeys counters, forgetting the least recently used one-off key first', async () => {
    // 6 in all: 3 fresh (counted once) and 3 held (counted twice or more).
    const limiter = bounded(6).limiter({ keyPrefix: 'k', points: 5, duration: 3600 });
    await limiter.consume('a');
    await limiter.consume('b');
    await limiter.consume('c');
    await limiter.consume('d');
    expect(counters?.size).toBe(3);
    expect(await limiter.get('a')).toBeNull();
    for (let i = 0; i < 1000; i += 1) await limiter.consume(`spray-${i}`);
    expect(counters?.size).toBe(3);
  });

  it('holds a key counted twice out of reach of one-off keys; only other held keys push it out', async () => {
    const limiter = bounded(6).limiter({ keyPrefix: 'k', points: 5, duration: 3600 });
    await limiter.consume('victim');
    await limiter.consume('victim');
    for (let i = 0; i < 1000; i += 1) await limiter.consume(`spray-${i}`);
    expect((await limiter.get('victim'))?.consumedPoints).toBe(2);
    // Three other keys counted twice fill the held half; the least recently used of the held goes.
    for (const key of ['x', 'y', 'z']) {
      await limiter.consume(key);
      await limiter.consume(key);
    }
    expect(await limiter.get('victim')).toBeNull();
    expect((await limiter.get('x'))?.consumedPoints).toBe(2);
    // x, y and z each left the fresh half when they moved: two spray keys are left there.
    expect(counters?.size).toBe(5);
  });

  it('holds a key from its first point when its limiter says so (the back-off gate)', async () => {
    const store = bounded(6);
    const gate = store.limiter({ keyPrefix: 'gate', points: 1, duration: 300, holdAt: 1 });
    const other = store.limiter({ keyPrefix: 'k', points: 5, duration: 3600 });
    await gate.consume('victim');
    for (let i = 0; i < 1000; i += 1) await other.consume(`spray-${i}`);
    expect((await gate.get('victim'))?.consumedPoints).toBe(1);
  });

  it('forgets a key given back to zero at once, fresh or held', async () => {
    const limiter = bounded(100).limiter({ keyPrefix: 'k', points: 5, duration: 3600 });
    await limiter.penalty('once');
    await limiter.reward('once');
    await limiter.penalty('twice', 2);
    await limiter.reward('twice', 2);
    expect(counters?.size).toBe(0);
    expect(await limiter.get('once')).toBeNull();
    expect(await limiter.get('twice')).toBeNull();
  });

  it('gives the memory back: a minute after their windows end, the counters are swept out', async () => {
    const limiter = bounded(20_000).limiter({ keyPrefix: 'k', points: 5, duration: 30 });
    for (let i = 0; i < 5000; i += 1) await limiter.consume(`burst-${i}`);
    for (let i = 0; i < 3000; i += 1) await limiter.consume(`burst-${i}`);
    expect(counters?.size).toBe(5000);
    jest.advanceTimersByTime(60_000);
    expect(counters?.size).toBe(0);
  });
});
