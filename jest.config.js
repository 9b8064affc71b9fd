/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60_000,
  // Suites start real servers, Redis and child processes: two workers keep a small machine or CI runner responsive.
  // Override with --maxWorkers.
  maxWorkers: 2,
};
