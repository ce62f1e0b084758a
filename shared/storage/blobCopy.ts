import type { BlockBlobClient } from "@azure/storage-blob";
import { statusOf } from "./tableErrors.js";

/** Copy Blob From URL (the synchronous server-side copy) takes sources up to 256 MiB; larger ones use the async copy. */
const SYNC_COPY_LIMIT = 256 * 1024 * 1024;

/**
 * Set once the storage service answers the synchronous copy with 501 Not Implemented: Azurite with its
 * SQL blob metadata store (what `npm start` runs) implements only the asynchronous Copy Blob, which it
 * completes at once. From then on this process copies asynchronously.
 */
let syncCopyUnsupported = false;

/**
 * Copies `sourceUrl` (a URL the service can read: a SAS) into `target`, server-side; with `ifMatch`, only
 * the version with that ETag (a 412 otherwise). The synchronous Copy Blob From URL where it is available
 * and the source is small enough, else Copy Blob polled until done.
 */
export async function copyBlob(target: BlockBlobClient, sourceUrl: string, options: { size?: number; ifMatch?: string } = {}): Promise<void> {
  const sourceConditions = options.ifMatch ? { ifMatch: options.ifMatch } : undefined;
  if (!syncCopyUnsupported && (options.size ?? 0) <= SYNC_COPY_LIMIT) {
    try {
      await target.syncCopyFromURL(sourceUrl, { sourceConditions });
      return;
    } catch (error) {
      if (statusOf(error) !== 501) throw error;
      syncCopyUnsupported = true;
    }
  }
  const poller = await target.beginCopyFromURL(sourceUrl, { sourceConditions, intervalInMs: 200 });
  const result = await poller.pollUntilDone();
  if (result.copyStatus && result.copyStatus !== "success") throw new Error(`copy into ${target.name} ended ${result.copyStatus}`);
}
