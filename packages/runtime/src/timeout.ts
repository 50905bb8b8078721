/**
 * Settles like `promise`, or rejects once `ms` pass without an answer. The message names `what`
 * (default "timed out"). The promise itself keeps running; only the wait ends.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(what ? `${what}: no answer within ${ms} ms` : `timed out after ${ms} ms`)),
      ms,
    );
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
