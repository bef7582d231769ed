/** Jest runs the TypeScript sources directly through swc; `npm run build` type-checks them. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  testTimeout: 60000,
  // One test file at a time: the files share one Cassandra node and two cores with the processes
  // they start, and contention turns into driver timeouts rather than speed.
  maxWorkers: 1,
};
