import { ConcurrencyError } from "../errors.js";
import { isConflict } from "./tableErrors.js";

/**
 * The one retry policy for optimistic concurrency. Every read-decide-write under ETags runs through it:
 * `attempt` reads what it needs, decides, and writes with the ETags it read; a conflict (409/412, see
 * `isConflict`) runs it again from the read, after a jittered exponential back-off (5 ms doubling, at most
 * 200 ms), up to 30 attempts (a few seconds of losing races in a row), then a ConcurrencyError. Any other
 * error goes straight to the caller. `attempt` may also return `RETRY` when it found a conflict by reading.
 */
export const RETRY = Symbol("retry");
export const MAX_ATTEMPTS = 30;

/** Runs `attempt` (`n` counts from 0) under the policy described above RETRY, until one neither hits a conflict nor returns RETRY. */
export async function retryOnConflict<T>(what: string, attempt: (n: number) => Promise<T | typeof RETRY>): Promise<T> {
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    try {
      const result = await attempt(n);
      if (result !== RETRY) return result;
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    await backOff(n);
  }
  throw new ConcurrencyError(what);
}

export function backOff(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * Math.random();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
