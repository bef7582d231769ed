// Suites that need what a machine may lack (qemu, root, a package, a second Cassandra node): in
// CI (CI=true) a missing prerequisite FAILS the suite with the reason; elsewhere it skips visibly.

/** True when the suite runs in CI, where nothing may be skipped. */
export const IN_CI = process.env.CI === 'true';

/**
 * `describe`, or, when `missing` says what is missing: in CI a suite whose one test fails with the
 * reason, elsewhere `describe.skip` after printing the reason to stderr.
 */
export function describeIfAvailable(file: string, missing: string | undefined): (name: string, fn: () => void) => void {
  if (!missing) return describe;
  if (IN_CI) {
    return (name) => describe(name, () => {
      test('has its prerequisites (CI=true: a missing prerequisite fails, never skips)', () => {
        throw new Error(`${file} cannot run in CI: ${missing}`);
      });
    });
  }
  process.stderr.write(`${file} skipped (outside CI): ${missing}\n`);
  return describe.skip;
}
