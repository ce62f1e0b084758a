import { useEffect, useState } from "preact/hooks";
import { api, errorText, query, type ImageSet, type Pagination } from "../api";
import { ErrorBox, Field, Pager, StatusBadge, when } from "../components";
import { href, navigate } from "../router";
import { imageSetTitleProblem, parseJsonObject } from "../rules";

export function CreateImageSet() {
  const [title, setTitle] = useState("");
  const [metadata, setMetadata] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const titleProblem = touched || title ? imageSetTitleProblem(title) : null;
  const meta = parseJsonObject(metadata);
  const submit = async (event: Event) => {
    event.preventDefault();
    setTouched(true);
    if (imageSetTitleProblem(title) || meta.problem) return;
    setBusy(true);
    setProblem(null);
    try {
      const set = await api<ImageSet>("POST", "/image_sets", { title, ...(meta.value ? { metadata: meta.value } : {}) });
      navigate(`sets/${set.imageset_id}`);
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Create an image set">
      <h2>New image set</h2>
      <Field
        label="Title"
        id="set-title"
        problem={titleProblem}
        hint="Lowercase letters, digits and single hyphens, 1-55 characters (it names the dropbox container)."
      >
        <input
          id="set-title"
          value={title}
          aria-invalid={titleProblem ? "true" : "false"}
          aria-describedby="set-title-problem"
          placeholder="imageset-26-10-2020"
          onInput={(e) => setTitle(e.currentTarget.value)}
          onBlur={() => setTouched(true)}
        />
      </Field>
      <Field label="Metadata (optional JSON object)" id="set-metadata" problem={meta.problem}>
        <textarea id="set-metadata" rows={2} value={metadata} placeholder='{"country": "Nederland"}' onInput={(e) => setMetadata(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={problem} />
      <button class="primary" type="submit" disabled={busy || Boolean(titleProblem) || Boolean(meta.problem) || !title}>
        Create image set
      </button>
    </form>
  );
}

export function ImageSetsPage() {
  const [page, setPage] = useState(1);
  const [data, setData] = useState<{ image_sets: ImageSet[]; pagination: Pagination } | null>(null);
  const [rejected, setRejected] = useState<Record<number, number>>({});
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api<{ image_sets: ImageSet[]; pagination: Pagination }>("GET", `/image_sets${query({ page, per_page: 20 })}`).then(
      async (result) => {
        if (!live) return;
        setData(result);
        // The list leaves rejected files out; each set's own answer has them.
        const counts = await Promise.all(
          result.image_sets.map((s) =>
            api<ImageSet>("GET", `/image_sets/${s.imageset_id}`).then(
              (d) => [s.imageset_id, d.rejected_files?.length ?? 0] as const,
              () => [s.imageset_id, 0] as const,
            ),
          ),
        );
        if (live) setRejected(Object.fromEntries(counts));
      },
      (error) => live && setProblem(errorText(error)),
    );
    return () => {
      live = false;
    };
  }, [page]);
  return (
    <>
      <h1>Image sets</h1>
      <div class="two-col">
        <section aria-label="Image set list">
          <ErrorBox error={problem} />
          {data && (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Id</th>
                    <th scope="col">Title</th>
                    <th scope="col">Status</th>
                    <th scope="col">Images</th>
                    <th scope="col">Rejected files</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {data.image_sets.map((set) => (
                    <tr key={set.imageset_id}>
                      <td>{set.imageset_id}</td>
                      <td>
                        <a href={href(`sets/${set.imageset_id}`)}>{set.title}</a>
                      </td>
                      <td>
                        <StatusBadge status={set.status} />
                      </td>
                      <td>{set.image_count.toLocaleString()}</td>
                      <td>{rejected[set.imageset_id] ?? "…"}</td>
                      <td>{when(set.date_created)}</td>
                    </tr>
                  ))}
                  {!data.image_sets.length && (
                    <tr>
                      <td colSpan={6} class="muted">
                        No image sets yet.
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </div>
          )}
          <Pager pagination={data?.pagination ?? null} onPage={setPage} label="Image set pages" />
        </section>
        <CreateImageSet />
      </div>
    </>
  );
}
