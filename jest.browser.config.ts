// Jest configuration of the browser tests (`npm run test:browser`): the main one, on tests/browser/ only.
import type { Config } from 'jest';
import config from './jest.config';

const browserConfig: Config = {
  ...config,
  roots: ['<rootDir>/tests/browser'],
  testMatch: ['<rootDir>/tests/browser/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
};

export default browserConfig;
