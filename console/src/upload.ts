/**
 * Uploads files from the browser straight to an image set's dropbox (a container SAS URL; blob CORS allows
 * the console's origin). Small files go in one Put Blob; larger ones in 4 MiB blocks (Put Block, then Put
 * Block List), several requests in flight across all files. Each request is retried with back-off on network
 * errors, 408, 429 and 5xx; progress is reported per file and overall.
 */

export const BLOCK_BYTES = 4 * 1024 * 1024;
/** Files up to this size go in one request. */
export const SINGLE_PUT_BYTES = 4 * 1024 * 1024;
const CONCURRENCY = 6;
const ATTEMPTS = 4;

export interface UploadFile {
  file: File;
  name: string;
  loaded: number;
  total: number;
  state: "queued" | "uploading" | "done" | "failed";
  error?: string;
  retries: number;
}

export const newUpload = (file: File): UploadFile => ({ file, name: file.name, loaded: 0, total: file.size, state: "queued", retries: 0 });

/** `<container>?<sas>` + blob name (+ extra query) → the blob's URL with the SAS. */
export function blobUrl(containerSasUrl: string, name: string, extra = ""): string {
  const url = new URL(containerSasUrl);
  url.pathname = `${url.pathname.replace(/\/$/, "")}/${name.split("/").map(encodeURIComponent).join("/")}`;
  return `${url.origin}${url.pathname}${url.search}${extra ? `&${extra}` : ""}`;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const retryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500;

function send(method: string, url: string, headers: Record<string, string>, body: Blob | string, onProgress: (loaded: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText)?.[1];
      reject(new HttpFailure(xhr.status, `${xhr.status}${code ? ` ${code}` : ""}`));
    };
    xhr.onerror = () => reject(new HttpFailure(0, "network error"));
    xhr.ontimeout = () => reject(new HttpFailure(0, "timed out"));
    xhr.send(body);
  });
}

/** A small pool of request slots shared by every file of one upload run. */
class Slots {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly size: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface UploadOptions {
  onChange: () => void;
  /** Test hook: the back-off base in ms (default 500). */
  backoffMs?: number;
}

export async function uploadAll(containerSasUrl: string, uploads: UploadFile[], options: UploadOptions): Promise<void> {
  const slots = new Slots(CONCURRENCY);
  const backoff = options.backoffMs ?? 500;

  /** One request with retries; `progress` reports this request's bytes so far. */
  const attempt = async (item: UploadFile, request: (progress: (n: number) => void) => Promise<void>, progress: (n: number) => void) => {
    for (let i = 1; ; i++) {
      try {
        await slots.run(() => request(progress));
        return;
      } catch (error) {
        progress(0);
        const status = error instanceof HttpFailure ? error.status : 0;
        if (i >= ATTEMPTS || !retryable(status)) throw error;
        item.retries++;
        options.onChange();
        await sleep(backoff * 2 ** (i - 1));
      }
    }
  };

  const one = async (item: UploadFile) => {
    if (item.state === "done") return;
    item.state = "uploading";
    item.loaded = 0;
    item.error = undefined;
    options.onChange();
    const contentType = item.file.type || "application/octet-stream";
    try {
      if (item.file.size <= SINGLE_PUT_BYTES) {
        await attempt(
          item,
          (progress) =>
            send("PUT", blobUrl(containerSasUrl, item.name), { "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": contentType }, item.file, progress),
          (n) => {
            item.loaded = n;
            options.onChange();
          },
        );
      } else {
        const count = Math.ceil(item.file.size / BLOCK_BYTES);
        const ids = Array.from({ length: count }, (_, i) => btoa(`block-${String(i).padStart(6, "0")}`));
        const loaded = new Array<number>(count).fill(0);
        await Promise.all(
          ids.map((id, i) =>
            attempt(
              item,
              (progress) =>
                send(
                  "PUT",
                  blobUrl(containerSasUrl, item.name, `comp=block&blockid=${encodeURIComponent(id)}`),
                  {},
                  item.file.slice(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES),
                  progress,
                ),
              (n) => {
                loaded[i] = n;
                item.loaded = loaded.reduce((a, b) => a + b, 0);
                options.onChange();
              },
            ),
          ),
        );
        const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
        await attempt(
          item,
          (progress) =>
            send(
              "PUT",
              blobUrl(containerSasUrl, item.name, "comp=blocklist"),
              { "Content-Type": "application/xml", "x-ms-blob-content-type": contentType },
              list,
              () => progress(0),
            ),
          () => undefined,
        );
      }
      item.loaded = item.total;
      item.state = "done";
    } catch (error) {
      item.state = "failed";
      item.error = error instanceof Error ? error.message : String(error);
    }
    options.onChange();
  };

  await Promise.all(uploads.filter((u) => u.state !== "done").map(one));
}

/** Names already in the dropbox (List Blobs with the container SAS), up to `max`. */
export async function listDropbox(containerSasUrl: string, max = 5000): Promise<string[]> {
  const names: string[] = [];
  let marker = "";
  do {
    const url = new URL(containerSasUrl);
    url.searchParams.set("restype", "container");
    url.searchParams.set("comp", "list");
    url.searchParams.set("maxresults", "1000");
    if (marker) url.searchParams.set("marker", marker);
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) throw new Error(`listing the dropbox answered ${response.status}`);
    const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
    for (const node of Array.from(doc.querySelectorAll("Blob > Name"))) names.push(node.textContent ?? "");
    marker = doc.querySelector("NextMarker")?.textContent ?? "";
  } while (marker && names.length < max);
  return names;
}
