import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText, query, type ImageInfo, type ImageSet, type Pagination } from "../api";
import { bytes, ConfirmButton, ErrorBox, Pager, ProgressBar, StatusBadge, usePolling, when } from "../components";
import { LabeledImage } from "../overlay";
import { listDropbox, newUpload, uploadAll, type UploadFile } from "../upload";

function Uploader(props: { set: ImageSet; onUploaded: () => void }) {
  const [uploads, setUploads] = useState<UploadFile[]>([]);
  const [running, setRunning] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [, setTick] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const frame = useRef(0);
  const refresh = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setTick((t) => t + 1);
    });
  };
  const start = async (files: File[]) => {
    if (!props.set.dropbox_url || !files.length) return;
    const added = files.map(newUpload);
    const all = [...uploads.filter((u) => !added.some((a) => a.name === u.name)), ...added];
    setUploads(all);
    setRunning(true);
    try {
      await uploadAll(props.set.dropbox_url, all, { onChange: refresh });
    } finally {
      setRunning(false);
      setTick((t) => t + 1);
      props.onUploaded();
    }
  };
  const retry = async () => {
    if (!props.set.dropbox_url) return;
    setRunning(true);
    try {
      await uploadAll(props.set.dropbox_url, uploads, { onChange: refresh });
    } finally {
      setRunning(false);
      props.onUploaded();
    }
  };
  const total = uploads.reduce((n, u) => n + u.total, 0);
  const loaded = uploads.reduce((n, u) => n + u.loaded, 0);
  const failed = uploads.filter((u) => u.state === "failed");
  return (
    <section class="card" aria-label="Upload images">
      <h2>Upload images</h2>
      <div
        class={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          void start(Array.from(e.dataTransfer?.files ?? []));
        }}
      >
        <p>Drop images here, or</p>
        <button type="button" class="primary" onClick={() => input.current?.click()}>
          Choose files…
        </button>
        <input
          ref={input}
          id="upload-input"
          class="visually-hidden"
          type="file"
          multiple
          accept="image/*"
          aria-label="Images to upload"
          onChange={(e) => {
            void start(Array.from(e.currentTarget.files ?? []));
            e.currentTarget.value = "";
          }}
        />
        <p class="hint">Files go straight from this browser to the set's dropbox; large files in 4 MiB blocks, several at once, retried on errors.</p>
      </div>
      {uploads.length > 0 && (
        <>
          <div class="upload-overall">
            <strong>All files</strong> ({uploads.filter((u) => u.state === "done").length} of {uploads.length} done, {bytes(loaded)} of {bytes(total)})
            <ProgressBar done={loaded} total={total} label="Upload, all files" />
          </div>
          <ul class="uploads" aria-label="Files">
            {uploads.map((u) => (
              <li key={u.name} data-state={u.state}>
                <span class="name">{u.name}</span>
                <span class="state">
                  {u.state}
                  {u.retries ? ` (${u.retries} retr${u.retries === 1 ? "y" : "ies"})` : ""}
                  {u.error ? `: ${u.error}` : ""}
                </span>
                <ProgressBar done={u.loaded} total={u.total} label={`Upload of ${u.name}`} />
              </li>
            ))}
          </ul>
          {failed.length > 0 && !running && (
            <button type="button" onClick={retry}>
              Retry {failed.length} failed
            </button>
          )}
        </>
      )}
    </section>
  );
}

export function ImageSetPage(props: { imagesetId: number }) {
  const [set, setSet] = useState<ImageSet | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [inDropbox, setInDropbox] = useState<string[] | null>(null);
  const [imagesPage, setImagesPage] = useState(1);
  const [images, setImages] = useState<{ images: ImageInfo[]; pagination: Pagination } | null>(null);
  const load = () =>
    api<ImageSet>("GET", `/image_sets/${props.imagesetId}`).then(
      (s) => {
        setSet(s);
        if (s.dropbox_url) listDropbox(s.dropbox_url).then(setInDropbox, () => setInDropbox(null));
        else setInDropbox(null);
      },
      (error) => setProblem(errorText(error)),
    );
  useEffect(() => void load(), [props.imagesetId]);
  usePolling(() => void load(), 1000, set?.status === "processing");
  useEffect(() => {
    if (!set || set.status === "processing") return;
    api<{ images: ImageInfo[]; pagination: Pagination }>("GET", `/image_sets/${props.imagesetId}/images${query({ page: imagesPage, per_page: 60 })}`).then(
      setImages,
      (error) => setProblem(errorText(error)),
    );
  }, [props.imagesetId, set?.status, imagesPage]);

  if (!set) return <ErrorBox error={problem} />;
  const open = set.status === "created" || set.status === "failed";
  return (
    <>
      <h1>
        Image set {set.title} <StatusBadge status={set.status} />
      </h1>
      <ErrorBox error={problem} />
      <dl class="facts">
        <dt>Id</dt>
        <dd>{set.imageset_id}</dd>
        <dt>Images</dt>
        <dd data-testid="image-count">{set.image_count.toLocaleString()}</dd>
        <dt>Created</dt>
        <dd>{when(set.date_created)}</dd>
        <dt>Finished</dt>
        <dd>{when(set.date_finished)}</dd>
        {set.failure_reason && (
          <>
            <dt>Failure</dt>
            <dd class="error">{set.failure_reason}</dd>
          </>
        )}
        {set.metadata && (
          <>
            <dt>Metadata</dt>
            <dd>
              <code>{JSON.stringify(set.metadata)}</code>
            </dd>
          </>
        )}
      </dl>
      {open && <Uploader set={set} onUploaded={() => void load()} />}
      {open && (
        <section class="card" aria-label="Finish">
          <h2>Finish</h2>
          <p>
            {inDropbox === null ? "" : `${inDropbox.length.toLocaleString()} file${inDropbox.length === 1 ? "" : "s"} in the dropbox. `}
            Finishing copies them into the image store in the background; the set shows <em>processing</em> until it is done.
          </p>
          <ConfirmButton
            label="Finish image set"
            question={`Finish image set ${set.title}?`}
            detail="The dropbox closes: its files are checked and copied, and no more uploads are taken."
            onConfirm={async () => {
              try {
                await api("PUT", `/image_sets/${set.imageset_id}`, { new_status: "finished" });
              } catch (error) {
                setProblem(errorText(error));
              }
              await load();
            }}
          />
        </section>
      )}
      {set.status === "processing" && (
        <p class="card" role="status">
          Processing: the files are being copied. This page updates by itself.
        </p>
      )}
      {(set.rejected_files?.length ?? 0) > 0 && (
        <section class="card" aria-label="Rejected files">
          <h2>Rejected files ({set.rejected_files!.length})</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {set.rejected_files!.map((f) => (
                  <tr key={f.name}>
                    <td>{f.name}</td>
                    <td>{f.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {images && images.images.length > 0 && (
        <section aria-label="Images of the set">
          <h2>Images</h2>
          <ul class="grid">
            {images.images.map((image) => (
              <li key={image.image_id} class="tile">
                <LabeledImage imageId={image.image_id} alt={image.blobstorage_path} />
                <span class="caption" title={image.blobstorage_path}>
                  #{image.image_id} {image.blobstorage_path.split("/").pop()} · {image.file.dimensions.width}×{image.file.dimensions.height}
                </span>
              </li>
            ))}
          </ul>
          <Pager pagination={images.pagination} onPage={setImagesPage} label="Image pages" />
        </section>
      )}
    </>
  );
}
