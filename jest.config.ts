// Jest configuration: ts-jest compiles each file on its own (tsc --noEmit does the type checking), tests in tests/.
import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // Browser tests need Chromium, which a newcomer's machine may lack: `npm run test:browser` runs them.
  testPathIgnorePatterns: ['/node_modules/', '/tests/browser/'],
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
