import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText, type Campaign, type ExportJob, type Pagination } from "../api";
import { ErrorBox, Field, Pager, ProgressBar, StatusBadge, usePolling, when } from "../components";
import { href } from "../router";
import { zipEntries, zipEntryBlob } from "../zip";

const FORMATS = ["csv", "json", "coco", "yolo", "voc", "masks"];
const GT_MODES = ["filled_polygon", "polygon_edge", "center_dot", "filled_polygon_instances", "filled_semantic"];
const DATE_FIELDS = [
  ["start", "Labeled from"],
  ["end", "Labeled until"],
  ["last_activity_start", "Last activity from"],
  ["last_activity_end", "Last activity until"],
] as const;
const DATE = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$/;

function CreateExport(props: { campaignId: number; onCreated: () => void }) {
  const [format, setFormat] = useState("coco");
  const [labelStatus, setLabelStatus] = useState("admin_complete");
  const [testData, setTestData] = useState("");
  const [dates, setDates] = useState<Record<string, string>>({});
  const [folder, setFolder] = useState("");
  const [suffix, setSuffix] = useState("_gt");
  const [gtMode, setGtMode] = useState("filled_polygon");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const dateProblem = (v: string | undefined) => (v && !DATE.test(v.trim()) ? "YYYY-MM-DD or YYYY-MM-DD hh:mm:ss (UTC)" : null);
  const invalid = DATE_FIELDS.some(([k]) => dateProblem(dates[k])) || (format === "masks" && !folder.trim());
  const submit = async (event: Event) => {
    event.preventDefault();
    if (invalid) return;
    setBusy(true);
    setProblem(null);
    const body: Record<string, unknown> = { format, label_status: labelStatus };
    if (testData) body.test_data = testData === "true";
    for (const [k] of DATE_FIELDS) if (dates[k]?.trim()) body[k] = dates[k].trim();
    if (format === "masks") Object.assign(body, { output_folder: folder.trim(), suffix, gt_mode: gtMode });
    try {
      await api("POST", `/campaigns/${props.campaignId}/exports`, body);
      props.onCreated();
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Create an export">
      <h2>New export</h2>
      <Field label="Format" id="export-format">
        <select id="export-format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
          {FORMATS.map((f) => (
            <option key={f} value={f}>
              {f === "masks" ? "masks (ground truth images)" : f.toUpperCase()}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Label status" id="export-status">
        <select id="export-status" value={labelStatus} onChange={(e) => setLabelStatus(e.currentTarget.value)}>
          <option value="admin_complete">approved (admin complete)</option>
          <option value="user_complete">at least partner complete</option>
          {format !== "masks" && <option value="all">all images</option>}
        </select>
      </Field>
      <Field label="Test data" id="export-test">
        <select id="export-test" value={testData} onChange={(e) => setTestData(e.currentTarget.value)}>
          <option value="">any</option>
          <option value="true">test data only</option>
          <option value="false">no test data</option>
        </select>
      </Field>
      <div class="dates">
        {DATE_FIELDS.map(([key, label]) => (
          <Field key={key} label={label} id={`export-${key}`} problem={dateProblem(dates[key])}>
            <input
              id={`export-${key}`}
              placeholder="YYYY-MM-DD"
              value={dates[key] ?? ""}
              onInput={(e) => setDates({ ...dates, [key]: e.currentTarget.value })}
            />
          </Field>
        ))}
      </div>
      {format === "masks" && (
        <fieldset>
          <legend>Mask job</legend>
          <Field label="Output folder" id="export-folder" hint="A folder of the export container of its own (not under downloads/).">
            <input id="export-folder" required value={folder} onInput={(e) => setFolder(e.currentTarget.value)} />
          </Field>
          <Field label="Suffix" id="export-suffix">
            <input id="export-suffix" value={suffix} onInput={(e) => setSuffix(e.currentTarget.value)} />
          </Field>
          <Field label="Mode (gt_mode)" id="export-mode">
            <select id="export-mode" value={gtMode} onChange={(e) => setGtMode(e.currentTarget.value)}>
              {GT_MODES.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </Field>
        </fieldset>
      )}
      <ErrorBox error={problem} />
      <button type="submit" class="primary" disabled={busy || invalid}>
        Start export
      </button>
    </form>
  );
}

const PALETTE = [
  [0, 0, 0],
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
];

/** A mask PNG with its values made visible: 255 white, other values a colour each, 0 black. */
function MaskCanvas(props: { blob: Blob; name: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    let live = true;
    void createImageBitmap(props.blob).then((bitmap) => {
      const c = canvas.current;
      if (!live || !c) return;
      c.width = bitmap.width;
      c.height = bitmap.height;
      const g = c.getContext("2d")!;
      g.drawImage(bitmap, 0, 0);
      const data = g.getImageData(0, 0, c.width, c.height);
      for (let i = 0; i < data.data.length; i += 4) {
        const v = data.data[i]!;
        const color = v === 255 ? [255, 255, 255] : v === 0 ? PALETTE[0]! : PALETTE[1 + ((v - 1) % (PALETTE.length - 1))]!;
        data.data[i] = color[0]!;
        data.data[i + 1] = color[1]!;
        data.data[i + 2] = color[2]!;
        data.data[i + 3] = 255;
      }
      g.putImageData(data, 0, 0);
    });
    return () => {
      live = false;
    };
  }, [props.blob]);
  return <canvas ref={canvas} class="mask" role="img" aria-label={`mask ${props.name}`} />;
}

function MaskPreview(props: { job: ExportJob }) {
  const [pairs, setPairs] = useState<Array<{ name: string; image: string; mask: Blob }> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const url = props.job.download_url;
    const suffix = props.job.options.masks?.suffix ?? "_gt";
    const folder = props.job.options.masks?.outputFolder ?? "";
    if (!url) return;
    const made: string[] = [];
    (async () => {
      const entries = await zipEntries(url);
      const masks = entries.filter((e) => e.name.endsWith(`${suffix}.png`)).slice(0, 3);
      const out = [];
      for (const mask of masks) {
        const stem = mask.name.slice(0, -`${suffix}.png`.length);
        const image = entries.find((e) => e !== mask && e.name.startsWith(`${stem}.`) && !e.name.endsWith(".json"));
        if (!image) continue;
        const [imageBlob, maskBlob] = await Promise.all([zipEntryBlob(url, image, ""), zipEntryBlob(url, mask, "image/png")]);
        const imageUrl = URL.createObjectURL(imageBlob);
        made.push(imageUrl);
        out.push({ name: stem.replace(`${folder}/`, ""), image: imageUrl, mask: maskBlob });
      }
      setPairs(out);
    })().catch((e) => setProblem(errorText(e)));
    return () => made.forEach((u) => URL.revokeObjectURL(u));
  }, [props.job.export_id]);
  if (problem) return <p class="error">Mask preview: {problem}</p>;
  if (!pairs) return <p class="muted">Loading a few masks…</p>;
  return (
    <ul class="mask-pairs" aria-label="Masks beside their images">
      {pairs.map((p) => (
        <li key={p.name}>
          <figure>
            <img src={p.image} alt={`image ${p.name}`} />
            <figcaption>{p.name}</figcaption>
          </figure>
          <figure>
            <MaskCanvas blob={p.mask} name={p.name} />
            <figcaption>mask</figcaption>
          </figure>
        </li>
      ))}
    </ul>
  );
}

function ExportRow({ job }: { job: ExportJob }) {
  const [showMasks, setShowMasks] = useState(false);
  const request = job.options.request ?? {};
  const masks = job.options.masks;
  return (
    <li class="card export" data-export-id={job.export_id} data-status={job.status}>
      <div class="export-head">
        <strong>{job.format.toUpperCase()}</strong> <StatusBadge status={job.status} /> <span class="muted">{job.export_id}</span>
      </div>
      <p class="muted">
        {Object.entries(request)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(", ")}
        {masks ? `, folder ${masks.outputFolder}, suffix ${masks.suffix}, ${masks.gtMode}` : ""} · created {when(job.date_created)}
      </p>
      <ProgressBar done={job.progress.done} total={job.progress.total} label={`Export ${job.export_id}`} />
      <p>
        {job.counts.images.toLocaleString()} images, {job.counts.objects.toLocaleString()} objects
        {job.warning_count ? `, ${job.warning_count} warning${job.warning_count === 1 ? "" : "s"}` : ""}
      </p>
      {job.warnings.length > 0 && (
        <details>
          <summary>Warnings</summary>
          <ul>
            {job.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </details>
      )}
      {job.error && <p class="error">{job.error}</p>}
      {job.download_url && (
        <div class="actions">
          <a class="button primary" href={job.download_url} download>
            Download
          </a>
          {job.format === "masks" && (
            <button type="button" onClick={() => setShowMasks(!showMasks)} aria-expanded={showMasks}>
              {showMasks ? "Hide masks" : "Show a few masks"}
            </button>
          )}
        </div>
      )}
      {showMasks && <MaskPreview job={job} />}
    </li>
  );
}

export function ExportsPage(props: { campaignId: number }) {
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [page, setPage] = useState(1);
  const [data, setData] = useState<{ exports: ExportJob[]; pagination: Pagination } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () =>
    api<{ exports: ExportJob[]; pagination: Pagination }>("GET", `/campaigns/${props.campaignId}/exports?page=${page}&per_page=20`).then(setData, (e) =>
      setProblem(errorText(e)),
    );
  useEffect(() => void api<Campaign>("GET", `/campaigns/${props.campaignId}`).then(setCampaign, (e) => setProblem(errorText(e))), [props.campaignId]);
  useEffect(() => void load(), [props.campaignId, page]);
  const live = data?.exports.some((e) => e.status === "queued" || e.status === "running") ?? false;
  usePolling(() => void load(), 1000, live);
  return (
    <>
      <h1>Exports of {campaign ? campaign.title : `campaign ${props.campaignId}`}</h1>
      <nav class="subnav" aria-label="Campaign pages">
        <a href={href(`campaigns/${props.campaignId}`)}>Campaign</a>
        <a href={href(`campaigns/${props.campaignId}/review`)}>Review labels</a>
      </nav>
      <ErrorBox error={problem} />
      <div class="two-col">
        <section aria-label="Export jobs">
          {data && !data.exports.length && <p class="muted">No exports yet.</p>}
          <ul class="exports">
            {data?.exports.map((job) => (
              <ExportRow key={job.export_id} job={job} />
            ))}
          </ul>
          <Pager pagination={data?.pagination ?? null} onPage={setPage} label="Export pages" />
        </section>
        <CreateExport
          campaignId={props.campaignId}
          onCreated={() => {
            setPage(1);
            void load();
          }}
        />
      </div>
    </>
  );
}
