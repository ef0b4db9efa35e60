// Admission on its own: at most maxRunning tasks at once, waiters served first come first served, the rest refused.
import fc from 'fast-check';
import { Admission } from '../../src/shared';
import { AuthError } from '../../src/errors';

/** A promise with its settle functions, so a test decides when a task ends. */
interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: Error): void;
}

/** A promise the test settles by hand. */
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise reaction run (a macrotask turn), so started tasks have started. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What a promise has settled to after one macrotask turn, or 'pending': "at once" without a timer. */
async function settledNow<T>(promise: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([promise, settle().then(() => 'pending' as const)]);
}

/** A task that records when it starts and ends when its deferred does. */
interface HeldTask {
  readonly id: number;
  readonly done: Deferred<string>;
  /** What run() gave back: the task's result, or its error or the refusal. */
  readonly outcome: Promise<{ ok: true; value: string } | { ok: false; error: unknown }>;
}

/** Submits tasks to one Admission and records the order in which they start. */
class Harness {
  readonly started: number[] = [];
  private nextId = 0;

  constructor(readonly admission: Admission) {}

  /** Calls run() with a task that stays open until the test settles its deferred. */
  submit(): HeldTask {
    const id = this.nextId++;
    const done = deferred<string>();
    const outcome = this.admission
      .run(() => {
        this.started.push(id);
        return done.promise;
      })
      .then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
    return { id, done, outcome };
  }
}

/** Whether an outcome is the SERVICE_BUSY refusal, exactly as the transports expect it. */
function isBusyRefusal(error: unknown): boolean {
  return (
    error instanceof AuthError &&
    error.code === 'SERVICE_BUSY' &&
    error.retryAfterSeconds === 1 &&
    error.message === 'service busy, try again shortly'
  );
}

it('runs up to maxRunning tasks at once and reports running and waiting in load', async () => {
  const harness = new Harness(new Admission(2, 2));
  expect(harness.admission.load).toEqual({ running: 0, waiting: 0 });
  const tasks = [harness.submit(), harness.submit(), harness.submit()];
  await settle();
  expect(harness.started).toEqual([0, 1]);
  expect(harness.admission.load).toEqual({ running: 2, waiting: 1 });
  for (const task of tasks) task.done.resolve(`result ${task.id}`);
  expect(await Promise.all(tasks.map((task) => task.outcome))).toEqual([
    { ok: true, value: 'result 0' },
    { ok: true, value: 'result 1' },
    { ok: true, value: 'result 2' },
  ]);
  expect(harness.started).toEqual([0, 1, 2]);
  expect(harness.admission.load).toEqual({ running: 0, waiting: 0 });
});

it('starts waiters in the order they arrived, whichever running task ends first', async () => {
  const harness = new Harness(new Admission(2, 3));
  const [first, second, ...waiters] = [0, 1, 2, 3, 4].map(() => harness.submit());
  await settle();
  expect(harness.started).toEqual([0, 1]);

  second.done.resolve('second');
  await settle();
  expect(harness.started).toEqual([0, 1, 2]);
  first.done.resolve('first');
  await settle();
  expect(harness.started).toEqual([0, 1, 2, 3]);
  waiters[1].done.resolve('fourth');
  await settle();
  expect(harness.started).toEqual([0, 1, 2, 3, 4]);

  for (const waiter of waiters) waiter.done.resolve('rest');
  await Promise.all(waiters.map((waiter) => waiter.outcome));
  expect(harness.admission.load).toEqual({ running: 0, waiting: 0 });
});

it('hands a finished slot straight to the first waiter, so the queue has room again and a newcomer waits behind it', async () => {
  const harness = new Harness(new Admission(1, 1));
  const running = harness.submit();
  const waiter = harness.submit();
  await settle();

  running.done.resolve('done');
  await running.outcome;
  // The slot went to the waiter without ever being free: still one running, and the queue is empty.
  expect(harness.admission.load).toEqual({ running: 1, waiting: 0 });
  expect(harness.started).toEqual([0, 1]);

  const newcomer = harness.submit();
  const refused = harness.submit();
  const refusal = await settledNow(refused.outcome);
  expect(refusal !== 'pending' && !refusal.ok && isBusyRefusal(refusal.error)).toBe(true);
  expect(harness.started).toEqual([0, 1]);
  expect(harness.admission.load).toEqual({ running: 1, waiting: 1 });

  waiter.done.resolve('done');
  await waiter.outcome;
  await settle();
  expect(harness.started).toEqual([0, 1, 2]);
  newcomer.done.resolve('done');
  await newcomer.outcome;
  expect(harness.admission.load).toEqual({ running: 0, waiting: 0 });
});

it('refuses at once with SERVICE_BUSY, without running the task, when the slots are taken and the queue bound is 0', async () => {
  const admission = new Admission(1, 0);
  const open = deferred();
  const running = admission.run(() => open.promise);
  const refusedTask = jest.fn(() => Promise.resolve('never'));

  const refusal = await settledNow(
    admission.run(refusedTask).then(
      () => null,
      (error: unknown) => error,
    ),
  );

  expect(isBusyRefusal(refusal)).toBe(true);
  expect(refusedTask).not.toHaveBeenCalled();
  expect(admission.load).toEqual({ running: 1, waiting: 0 });
  open.resolve();
  await running;
  // With the slot free again, the next caller runs at once.
  await expect(admission.run(() => Promise.resolve('ran'))).resolves.toBe('ran');
  expect(admission.load).toEqual({ running: 0, waiting: 0 });
});

it('refuses only past the queue bound: with 1 slot and 2 waiting places, the fourth caller is refused', async () => {
  const harness = new Harness(new Admission(1, 2));
  const tasks = [0, 1, 2, 3].map(() => harness.submit());
  const fourth = await settledNow(tasks[3].outcome);
  expect(fourth !== 'pending' && !fourth.ok && isBusyRefusal(fourth.error)).toBe(true);
  expect(harness.admission.load).toEqual({ running: 1, waiting: 2 });
  for (const task of tasks.slice(0, 3)) task.done.resolve('done');
  await Promise.all(tasks.map((task) => task.outcome));
  expect(harness.started).toEqual([0, 1, 2]);
});

it('releases the slot when a task rejects, passes the error through, and serves the next waiter', async () => {
  const harness = new Harness(new Admission(1, 1));
  const failing = harness.submit();
  const waiter = harness.submit();
  await settle();
  const failure = new Error('bcrypt exploded');

  failing.done.reject(failure);
  expect(await failing.outcome).toEqual({ ok: false, error: failure });
  await settle();
  expect(harness.started).toEqual([0, 1]);
  waiter.done.resolve('fine');
  expect(await waiter.outcome).toEqual({ ok: true, value: 'fine' });
  expect(harness.admission.load).toEqual({ running: 0, waiting: 0 });
});

it('releases the slot when a task throws before returning a promise', async () => {
  const admission = new Admission(1, 0);
  const failure = new Error('thrown synchronously');
  await expect(
    admission.run(() => {
      throw failure;
    }),
  ).rejects.toBe(failure);
  expect(admission.load).toEqual({ running: 0, waiting: 0 });
  await expect(admission.run(() => Promise.resolve(7))).resolves.toBe(7);
});

it('behaves like a bounded FIFO semaphore for any sequence of arrivals and endings', async () => {
  /** One step: a caller arrives, or the running task at `index` (modulo how many run) ends, well or badly. */
  type Step = { kind: 'arrive' } | { kind: 'end'; index: number; fails: boolean };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.constant<Step>({ kind: 'arrive' }),
    fc.record({ kind: fc.constant('end' as const), index: fc.nat(7), fails: fc.boolean() }),
  );

  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.array(step, { maxLength: 30 }),
      async (maxRunning, maxWaiting, steps) => {
        const harness = new Harness(new Admission(maxRunning, maxWaiting));
        const tasks = new Map<number, HeldTask>();
        // The model: which ids run and wait, in order, and which were refused.
        const running: number[] = [];
        const waiting: number[] = [];
        const expectedStarts: number[] = [];
        const refused: number[] = [];

        for (const current of steps) {
          if (current.kind === 'arrive') {
            const task = harness.submit();
            tasks.set(task.id, task);
            if (running.length < maxRunning) {
              running.push(task.id);
              expectedStarts.push(task.id);
            } else if (waiting.length < maxWaiting) waiting.push(task.id);
            else refused.push(task.id);
          } else if (running.length > 0) {
            const [id] = running.splice(current.index % running.length, 1);
            const task = tasks.get(id);
            if (current.fails) task?.done.reject(new Error(`task ${id} failed`));
            else task?.done.resolve(`task ${id}`);
            const next = waiting.shift();
            if (next !== undefined) {
              running.push(next);
              expectedStarts.push(next);
            }
          }
          await settle();
          expect(harness.started).toEqual(expectedStarts);
          expect(harness.admission.load).toEqual({ running: running.length, waiting: waiting.length });
        }

        for (const id of refused) {
          const task = tasks.get(id);
          if (task === undefined) throw new Error(`task ${id} was never submitted`);
          const outcome = await settledNow(task.outcome);
          expect(outcome !== 'pending' && !outcome.ok && isBusyRefusal(outcome.error)).toBe(true);
        }
        // Ending everything still open drains the queue completely.
        while (running.length > 0) {
          const id = running.shift() ?? -1;
          tasks.get(id)?.done.resolve('end');
          const next = waiting.shift();
          if (next !== undefined) running.push(next);
          await settle();
        }
        expect(harness.admission.load).toEqual({ running: 0, waiting: 0 });
      },
    ),
    { numRuns: 150 },
  );
});
