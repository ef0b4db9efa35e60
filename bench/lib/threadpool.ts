// Sizes this process's libuv thread pool before anything uses it, as src/main.ts does for the service.
import { availableParallelism } from 'node:os';

/** libuv's default pool size. */
const LIBUV_DEFAULT_THREADS = 4;

// The raw bcrypt baseline runs one compare per CPU at once on this pool; the service's pool gets the same size
// (src/main.ts: BCRYPT_MAX_CONCURRENCY + 4), so neither side is short of threads. libuv reads the variable when
// the pool first starts, which is why this module is imported first.
process.env.UV_THREADPOOL_SIZE ??= String(availableParallelism() + LIBUV_DEFAULT_THREADS);
