import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText, query, type Campaign, type CampaignImage, type LabelObject, type Pagination } from "../api";
import { ErrorBox, Pager, StatusBadge, when } from "../components";
import { LabeledImage, Legend, labelsOf } from "../overlay";
import { href, navigate, type Route } from "../router";
import { prefetchThumbnails } from "../thumbs";

interface Submission {
  submitted_by: string;
  submitted_at: string;
  objects: LabelObject[];
}

const STATUSES = ["", "user_complete", "admin_complete", "rejected", "unlabeled"] as const;
const PER_PAGE = [24, 50, 100];

function Viewer(props: {
  campaignId: number;
  images: CampaignImage[];
  index: number;
  hidden: Set<string>;
  onToggle: (label: string) => void;
  onIndex: (index: number | null) => void;
  onChanged: (image: CampaignImage) => void;
}) {
  const { images, index } = props;
  const image = images[index]!;
  const [history, setHistory] = useState<Submission[] | null>(null);
  const [ghostAt, setGhostAt] = useState<number | null>(null);
  // The reject box and its comment belong to the image they were opened on (state keyed by image id, not
  // reset by an effect), so moving on closes the box without a race.
  const [rejectingId, setRejectingId] = useState<number | null>(null);
  const [draft, setDraft] = useState<{ imageId: number; text: string } | null>(null);
  const rejecting = rejectingId === image.image_id;
  const setRejecting = (open: boolean) => setRejectingId(open ? image.image_id : null);
  const comment = draft?.imageId === image.image_id ? draft.text : "";
  const setComment = (text: string) => setDraft({ imageId: image.image_id, text });
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  const commentBox = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    setHistory(null);
    setGhostAt(null);
    setProblem(null);
    api<{ submissions: Submission[] }>("GET", `/campaigns/${props.campaignId}/images/${image.image_id}/history`).then(
      (h) => setHistory(h.submissions),
      (e) => setProblem(errorText(e)),
    );
  }, [image.image_id]);
  useEffect(() => panel.current?.focus(), []);
  useEffect(() => {
    if (rejecting) commentBox.current?.focus();
  }, [rejecting]);

  const go = (delta: number) => {
    const next = index + delta;
    if (next >= 0 && next < images.length) props.onIndex(next);
  };
  const review = async (decision: "approve" | "reject") => {
    if (decision === "reject" && !comment.trim()) {
      setRejecting(true);
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      await api("PUT", `/campaigns/${props.campaignId}/review`, {
        image_ids: [image.image_id],
        decision,
        ...(decision === "reject" ? { comment: comment.trim() } : {}),
      });
      props.onChanged({
        ...image,
        label_status: decision === "approve" ? "admin_complete" : "rejected",
        review_comment: decision === "reject" ? comment.trim() : "",
      });
      go(1);
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  const toggleTestData = async () => {
    setBusy(true);
    try {
      await api("PUT", `/campaigns/${props.campaignId}/test_data`, { image_ids: [image.image_id], test_data: !image.test_data });
      props.onChanged({ ...image, test_data: !image.test_data });
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(false);
    }
  };

  // The window's keydown listener is added once and calls the handler of the latest render. A listener
  // re-added by an effect would, between a render and its effects (up to a frame later), still hold the
  // previous render's image: "R" pressed right after "J" opened the reject box for the image left behind.
  const onKeyLatest = useRef<(event: KeyboardEvent) => void>(() => undefined);
  onKeyLatest.current = (event: KeyboardEvent) => {
    const target = event.target;
    const typing =
      target instanceof HTMLTextAreaElement ||
      target instanceof HTMLSelectElement ||
      (target instanceof HTMLInputElement && !["checkbox", "radio", "button"].includes(target.type));
    if (event.key === "Escape") {
      if (rejecting) setRejecting(false);
      else props.onIndex(null);
      event.preventDefault();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey || busy) return;
    const key = event.key.toLowerCase();
    if (key === "arrowright" || key === "j") go(1);
    else if (key === "arrowleft" || key === "k") go(-1);
    else if (key === "a") void review("approve");
    else if (key === "r") setRejecting(true);
    else if (key === "t") void toggleTestData();
    else return;
    event.preventDefault();
  };
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => onKeyLatest.current(event);
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  const ghost = ghostAt !== null ? history?.[ghostAt]?.objects : undefined;
  const objects = image.objects ?? [];
  return (
    <div class="viewer" role="dialog" aria-modal="true" aria-label={`Image ${image.image_id}`} tabIndex={-1} ref={panel}>
      <div class="viewer-image">
        <LabeledImage key={image.image_id} imageId={image.image_id} size={1024} objects={objects} hidden={props.hidden} ghost={ghost} />
      </div>
      <aside class="viewer-side">
        <h2>
          Image {image.image_id} <StatusBadge status={image.label_status} />
          {image.test_data && <span class="badge test">test data</span>}
        </h2>
        <p class="muted">
          {index + 1} of {images.length} on this page · last activity {when(image.last_activity)}
        </p>
        {image.review_comment && <p class="comment">Review comment: {image.review_comment}</p>}
        <h3>Labels ({objects.length})</h3>
        <Legend labels={labelsOf([objects, ghost])} hidden={props.hidden} onToggle={props.onToggle} />
        <div class="actions">
          <button type="button" onClick={() => go(-1)} disabled={index === 0} aria-keyshortcuts="ArrowLeft K">
            ← Previous
          </button>
          <button type="button" onClick={() => go(1)} disabled={index === images.length - 1} aria-keyshortcuts="ArrowRight J">
            Next →
          </button>
        </div>
        <div class="actions">
          <button
            type="button"
            class="primary"
            disabled={busy || image.label_status === "unlabeled" || image.label_status === "rejected"}
            onClick={() => void review("approve")}
            aria-keyshortcuts="A"
          >
            Approve (A)
          </button>
          <button type="button" class="danger" disabled={busy || image.label_status === "unlabeled"} onClick={() => setRejecting(true)} aria-keyshortcuts="R">
            Reject… (R)
          </button>
          <button type="button" disabled={busy} onClick={() => void toggleTestData()} aria-keyshortcuts="T" aria-pressed={image.test_data}>
            {image.test_data ? "Unmark test data (T)" : "Mark test data (T)"}
          </button>
        </div>
        {rejecting && (
          <form
            class="reject"
            onSubmit={(e) => {
              e.preventDefault();
              void review("reject");
            }}
          >
            <label for="reject-comment">Comment for the partner (required)</label>
            <textarea id="reject-comment" ref={commentBox} rows={3} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
            <div class="actions">
              <button type="submit" class="danger" disabled={busy || !comment.trim()}>
                Send back to the partner
              </button>
              <button type="button" onClick={() => setRejecting(false)}>
                Cancel
              </button>
            </div>
          </form>
        )}
        <ErrorBox error={problem} />
        <h3>Submission history</h3>
        {!history ? (
          <p class="muted">Loading…</p>
        ) : !history.length ? (
          <p class="muted">No submissions.</p>
        ) : (
          <ol class="history">
            {history.map((s, i) => (
              <li key={i}>
                <label>
                  <input type="checkbox" checked={ghostAt === i} onChange={() => setGhostAt(ghostAt === i ? null : i)} />
                  Overlay #{i + 1}: {when(s.submitted_at)} by {s.submitted_by}, {s.objects.length} object{s.objects.length === 1 ? "" : "s"}
                  {i === history.length - 1 ? " (current)" : ""}
                </label>
              </li>
            ))}
          </ol>
        )}
        <p class="hint">Keys: ← / K previous, → / J next, A approve, R reject, T test data, Esc close.</p>
        <button type="button" onClick={() => props.onIndex(null)}>
          Close (Esc)
        </button>
      </aside>
    </div>
  );
}

export function ReviewPage(props: { campaignId: number; route: Route }) {
  const params = props.route.params;
  const status = params.get("label_status") ?? "";
  const testData = params.get("test_data") ?? "";
  const page = Number(params.get("page") ?? "1") || 1;
  const perPage = PER_PAGE.includes(Number(params.get("per_page"))) ? Number(params.get("per_page")) : 50;
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [data, setData] = useState<{ images: CampaignImage[]; pagination: Pagination } | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<number | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const setParams = (change: Record<string, string | number | undefined>) =>
    navigate(`campaigns/${props.campaignId}/review`, { label_status: status, test_data: testData, page, per_page: perPage, ...change });

  const load = () =>
    api<{ images: CampaignImage[]; pagination: Pagination }>(
      "GET",
      `/campaigns/${props.campaignId}/objects${query({ label_status: status, test_data: testData, page, per_page: perPage })}`,
    ).then(
      (result) => {
        prefetchThumbnails(result.images.map((i) => i.image_id));
        setData(result);
      },
      (e) => setProblem(errorText(e)),
    );
  useEffect(() => void api<Campaign>("GET", `/campaigns/${props.campaignId}`).then(setCampaign, (e) => setProblem(errorText(e))), [props.campaignId]);
  useEffect(() => {
    setOpen(null);
    void load();
  }, [props.campaignId, status, testData, page, perPage]);

  const toggle = (label: string) => {
    const next = new Set(hidden);
    if (next.has(label)) next.delete(label);
    else next.add(label);
    setHidden(next);
  };
  const images = data?.images ?? [];
  const approvable = images.filter((i) => i.label_status === "user_complete");
  const approvePage = async () => {
    setProblem(null);
    try {
      await api("PUT", `/campaigns/${props.campaignId}/review`, { image_ids: approvable.map((i) => i.image_id), decision: "approve" });
      setNotice(`Approved ${approvable.length} image${approvable.length === 1 ? "" : "s"}.`);
      await load();
    } catch (error) {
      setProblem(errorText(error));
    }
  };
  return (
    <>
      <h1>Review {campaign ? campaign.title : `campaign ${props.campaignId}`}</h1>
      <nav class="subnav" aria-label="Campaign pages">
        <a href={href(`campaigns/${props.campaignId}`)}>Campaign</a>
        <a href={href(`campaigns/${props.campaignId}/exports`)}>Exports</a>
      </nav>
      <form class="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Label status{" "}
          <select value={status} onChange={(e) => setParams({ label_status: e.currentTarget.value, page: 1 })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s ? s.replace(/_/g, " ") : "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          Test data{" "}
          <select value={testData} onChange={(e) => setParams({ test_data: e.currentTarget.value, page: 1 })}>
            <option value="">any</option>
            <option value="true">test data only</option>
            <option value="false">no test data</option>
          </select>
        </label>
        <label>
          Per page{" "}
          <select value={String(perPage)} onChange={(e) => setParams({ per_page: e.currentTarget.value, page: 1 })}>
            {PER_PAGE.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="primary" disabled={!approvable.length} onClick={approvePage}>
          Approve {approvable.length} partner-complete on this page
        </button>
      </form>
      <ErrorBox error={problem} />
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      <Legend labels={labelsOf(images.map((i) => i.objects))} hidden={hidden} onToggle={toggle} />
      {data && !images.length && <p class="muted">No images match.</p>}
      <ul class="grid review-grid" aria-label="Images">
        {images.map((image, i) => (
          <li key={image.image_id} class="tile" data-label-status={image.label_status}>
            <button
              type="button"
              class="tile-button"
              onClick={() => setOpen(i)}
              aria-label={`Open image ${image.image_id} (${image.label_status.replace(/_/g, " ")})`}
            >
              <LabeledImage imageId={image.image_id} objects={image.objects} hidden={hidden} />
            </button>
            <span class="caption">
              #{image.image_id} <StatusBadge status={image.label_status} /> {image.test_data && <span class="badge test">test</span>} ·{" "}
              {(image.objects ?? []).length} obj.
            </span>
          </li>
        ))}
      </ul>
      <Pager pagination={data?.pagination ?? null} onPage={(p) => setParams({ page: p })} label="Review pages" />
      {open !== null && images[open] && (
        <Viewer
          campaignId={props.campaignId}
          images={images}
          index={open}
          hidden={hidden}
          onToggle={toggle}
          onIndex={setOpen}
          onChanged={(changed) => setData((d) => (d ? { ...d, images: d.images.map((x) => (x.image_id === changed.image_id ? changed : x)) } : d))}
        />
      )}
    </>
  );
}
