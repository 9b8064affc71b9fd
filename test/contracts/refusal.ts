import { MeridianError } from '../../lib/errors';

/** Code and details of what `promise` rejected with, failing the test when it resolves. */
export async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string; details: object }> {
  const outcome = await promise.then(
    () => new Error('expected the call to fail'),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(MeridianError);
  const e = outcome as MeridianError;
  return { code: e.code, message: e.message, details: e.details };
}
