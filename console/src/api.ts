import { clearCredentials, loadCredentials } from "./session";

/** The API's error answer: `{status, detail}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly body: unknown,
  ) {
    super(detail);
  }
}

export const API_BASE = "/api/v1";

let onUnauthorized: () => void = () => undefined;
/** Called when a request answers 401: the credentials are dropped and the app returns to the sign-in page. */
export const setUnauthorizedHandler = (handler: () => void) => {
  onUnauthorized = handler;
};

export function authHeaders(): Record<string, string> {
  const credentials = loadCredentials();
  return credentials ? { "Authentication-Key": credentials.key, "Authentication-Secret": credentials.secret } : {};
}

/** One API call with the session's credentials; JSON in and out. A 401 signs out; any other error is an ApiError with the detail. */
export async function api<T = unknown>(method: string, path: string, body?: unknown, options: { allowStatus?: number[] } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method,
      headers: { ...authHeaders(), ...(body !== undefined ? { "Content-Type": "application/json" } : {}), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, `the API could not be reached (${error instanceof Error ? error.message : String(error)})`, null);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (response.status === 401) {
    clearCredentials();
    onUnauthorized();
  }
  if (!response.ok && !options.allowStatus?.includes(response.status)) {
    const detail = parsed && typeof parsed === "object" && "detail" in parsed ? String(parsed.detail) : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail, parsed);
  }
  return parsed as T;
}

export const errorText = (error: unknown) => (error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error));

export interface Pagination {
  page: number;
  pages: number;
  per_page: number;
  total: number;
  next: number | null;
  prev: number | null;
}

export interface Progress {
  done: number;
  total: number;
}

export interface MeCampaign {
  campaign_id: number;
  title: string;
  status: string;
  progress: Progress;
  access_ended: boolean;
}

export interface Me {
  apikey: string;
  role: "image-admin" | "labeler";
  email: string;
  campaigns: MeCampaign[] | null;
}

export interface ImageSet {
  imageset_id: number;
  title: string;
  status: "created" | "processing" | "finished" | "failed";
  metadata: Record<string, unknown> | null;
  dropbox_url: string | null;
  date_created: string;
  date_finished: string | null;
  failure_reason: string | null;
  image_count: number;
  rejected_files?: Array<{ name: string; reason: string }>;
}

export interface ImageInfo {
  image_id: number;
  blobstorage_path: string;
  file: { dimensions: { width: number; height: number }; filesize: number; filetype: string };
}

export interface Campaign {
  campaign_id: number;
  title: string;
  status: string;
  metadata: Record<string, unknown> | null;
  label_translations: Record<string, string> | null;
  progress: Progress;
  created_by: string;
  date_created: string;
  date_started: string | null;
  date_completed: string | null;
  date_finished: string | null;
  finish_error: string | null;
  finish_notes: string[];
}

export interface BoundingBox {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

export interface LabelObject {
  label: string;
  label_translated?: string;
  confidence?: number | null;
  bounding_box: BoundingBox | null;
  polygon?: Array<[number, number]> | null;
}

export type LabelStatus = "unlabeled" | "user_complete" | "admin_complete" | "rejected";

export interface CampaignImage {
  image_id: number;
  url: string;
  label_status: LabelStatus;
  test_data: boolean;
  review_comment: string | null;
  last_activity: string | null;
  objects?: LabelObject[];
}

export interface ExportJob {
  export_id: string;
  campaign_id: number;
  format: string;
  status: "queued" | "running" | "succeeded" | "failed";
  options: { request?: Record<string, unknown>; masks?: { outputFolder: string; suffix: string; gtMode: string } };
  progress: Progress;
  counts: { images: number; objects: number };
  warnings: string[];
  warning_count: number;
  date_created: string;
  date_finished: string | null;
  download_url: string | null;
  error: string | null;
}

/** `?a=1&b=2` from a record, skipping empty values. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}
