import { errorMessage, unavailable } from "../errors.js";

/**
 * Queues the job a change just recorded needs; when the queue refuses, undoes the change (best effort)
 * and answers 503, so a request either changes something and queues its job, or leaves things as they were.
 */
export async function queueOrUndo(send: () => Promise<void>, undo: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await send();
  } catch (error) {
    await undo().catch(() => undefined);
    throw unavailable(`could not queue ${what} (${errorMessage(error)}); nothing changed, try again`);
  }
}
