// Deleting in bounded batches: the one loop every clean-up step uses.

/**
 * Runs a batch step (which removes at most `batchSize` rows and says how many) until it removes fewer than a full
 * batch, yielding to the event loop between batches so requests interleave with a long clean-up.
 * @returns how many rows all the batches removed.
 */
export async function drain(step: () => Promise<number>, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await step();
    total += removed;
    if (removed < batchSize) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
