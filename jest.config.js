/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60_000,
  // Suites start real servers and SQLite files; two workers fit this 2-core machine.
  maxWorkers: 2,
};
