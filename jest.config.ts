// Jest configuration: ts-jest compiles each file on its own (tsc --noEmit does the type checking), tests in tests/.
import type { Config } from 'jest';
import { suitesWithoutTheirServer } from './tests/helpers/servers';

// Suites marked `@needs postgres` or `@needs redis` are left out, with one line each, when their server is missing
// and nothing requires it; under CI=true or with TEST_DATABASE_URL / TEST_REDIS_URL set, a missing server fails the
// run instead (suitesWithoutTheirServer throws).
const { ignored, lines } = suitesWithoutTheirServer(__dirname);
for (const line of lines) process.stderr.write(`${line}\n`);
const escape = (path: string): string => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // Browser tests need Chromium, which a newcomer's machine may lack: `npm run test:browser` runs them.
  testPathIgnorePatterns: [
    '/node_modules/',
    '/tests/browser/',
    ...ignored.map((path) => `/${escape(path)}$`),
  ],
  setupFiles: ['reflect-metadata'],
  globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/tests/helpers/global-teardown.ts',
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // bcrypt and the end-to-end server make some tests take seconds on a 2-core machine.
  testTimeout: 30_000,
};

export default config;
