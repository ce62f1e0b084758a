import { useEffect, useState } from "preact/hooks";
import { api, errorText, query, type Campaign, type ImageInfo, type ImageSet, type Pagination } from "../api";
import { ConfirmButton, ErrorBox, ProgressBar, StatusBadge, usePolling, when } from "../components";
import { href } from "../router";

/** Every image id of an image set, page by page. */
async function imageIdsOfSet(imagesetId: number): Promise<number[]> {
  const ids: number[] = [];
  for (let page = 1; ; page++) {
    const result = await api<{ images: ImageInfo[]; pagination: Pagination }>("GET", `/image_sets/${imagesetId}/images${query({ page, per_page: 1000 })}`);
    ids.push(...result.images.map((i) => i.image_id));
    if (!result.pagination.next) return ids;
  }
}

function AddImages(props: { campaignId: number; onAdded: () => void }) {
  const [sets, setSets] = useState<ImageSet[] | null>(null);
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    (async () => {
      const all: ImageSet[] = [];
      for (let page = 1; ; page++) {
        const result = await api<{ image_sets: ImageSet[]; pagination: Pagination }>("GET", `/image_sets${query({ page, per_page: 1000 })}`);
        all.push(...result.image_sets.filter((s) => s.status === "finished" && s.image_count > 0));
        if (!result.pagination.next) break;
      }
      setSets(all);
    })().catch((e) => setProblem(errorText(e)));
  }, []);
  const add = async () => {
    setProblem(null);
    try {
      for (const id of picked) {
        const set = sets?.find((s) => s.imageset_id === id);
        setBusy(`Reading the images of ${set?.title ?? id}…`);
        const ids = await imageIdsOfSet(id);
        for (let i = 0; i < ids.length; i += 10_000) {
          setBusy(`Adding images of ${set?.title ?? id} (${Math.min(i + 10_000, ids.length).toLocaleString()} of ${ids.length.toLocaleString()})…`);
          await api(
            "POST",
            `/campaigns/${props.campaignId}/images`,
            ids.slice(i, i + 10_000).map((imageId) => ({ id: imageId })),
          );
        }
      }
      setPicked(new Set());
      props.onAdded();
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section class="card" aria-label="Add images">
      <h2>Add images from image sets</h2>
      {!sets ? (
        <p class="muted">Loading image sets…</p>
      ) : !sets.length ? (
        <p class="muted">No finished image set has images yet.</p>
      ) : (
        <fieldset>
          <legend>Finished image sets</legend>
          {sets.map((s) => (
            <label key={s.imageset_id} class="check">
              <input
                type="checkbox"
                checked={picked.has(s.imageset_id)}
                onChange={(e) => {
                  const next = new Set(picked);
                  if (e.currentTarget.checked) next.add(s.imageset_id);
                  else next.delete(s.imageset_id);
                  setPicked(next);
                }}
              />
              {s.title} ({s.image_count.toLocaleString()} images)
            </label>
          ))}
        </fieldset>
      )}
      <ErrorBox error={problem} />
      {busy && <p role="status">{busy}</p>}
      <button type="button" class="primary" disabled={!picked.size || Boolean(busy)} onClick={add}>
        Add images of {picked.size} set{picked.size === 1 ? "" : "s"}
      </button>
    </section>
  );
}

export function CampaignPage(props: { campaignId: number }) {
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () => api<Campaign>("GET", `/campaigns/${props.campaignId}`).then(setCampaign, (e) => setProblem(errorText(e)));
  useEffect(() => void load(), [props.campaignId]);
  usePolling(() => void load(), 2000, campaign?.status === "finishing" || campaign?.status === "active");
  if (!campaign) return <ErrorBox error={problem} />;
  const change = (to: string) => async () => {
    setProblem(null);
    try {
      await api("PUT", `/campaigns/${campaign.campaign_id}`, { new_status: to });
    } catch (error) {
      setProblem(errorText(error));
    }
    await load();
  };
  const s = campaign.status;
  return (
    <>
      <h1>
        Campaign {campaign.title} <StatusBadge status={s} />
      </h1>
      <nav class="subnav" aria-label="Campaign pages">
        <a href={href(`campaigns/${campaign.campaign_id}/review`)}>Review labels</a>
        <a href={href(`campaigns/${campaign.campaign_id}/exports`)}>Exports</a>
      </nav>
      <ErrorBox error={problem} />
      <section class="card" aria-label="Progress">
        <ProgressBar done={campaign.progress.done} total={campaign.progress.total} label={`Progress of ${campaign.title}`} />
        <dl class="facts">
          <dt>Id</dt>
          <dd>{campaign.campaign_id}</dd>
          <dt>Created</dt>
          <dd>
            {when(campaign.date_created)} by {campaign.created_by}
          </dd>
          <dt>Started</dt>
          <dd>{when(campaign.date_started)}</dd>
          <dt>Completed</dt>
          <dd>{when(campaign.date_completed)}</dd>
          <dt>Finished</dt>
          <dd>{when(campaign.date_finished)}</dd>
          {campaign.metadata && (
            <>
              <dt>Metadata</dt>
              <dd>
                <code>{JSON.stringify(campaign.metadata)}</code>
              </dd>
            </>
          )}
          {campaign.label_translations && (
            <>
              <dt>Label translations</dt>
              <dd>
                <code>{JSON.stringify(campaign.label_translations)}</code>
              </dd>
            </>
          )}
        </dl>
        {campaign.finish_error && (
          <p class="error" role="alert">
            Finishing failed: {campaign.finish_error}
          </p>
        )}
        {campaign.finish_notes?.length > 0 && (
          <ul class="notes" aria-label="Finish notes">
            {campaign.finish_notes.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        )}
      </section>
      <section class="card actions" aria-label="Status changes">
        {s === "created" && (
          <ConfirmButton
            label="Activate"
            question={`Activate ${campaign.title}?`}
            detail="The partner can then fetch the images and submit labels. No more images can be added."
            disabled={campaign.progress.total === 0}
            onConfirm={change("active")}
          />
        )}
        {s === "active" && (
          <ConfirmButton
            label="Complete"
            question={`Mark ${campaign.title} completed?`}
            detail="The partner can submit no more labels until it is reopened."
            onConfirm={change("completed")}
          />
        )}
        {s === "completed" && (
          <ConfirmButton label="Reopen" question={`Reopen ${campaign.title}?`} detail="The partner can submit labels again." onConfirm={change("active")} />
        )}
        {(s === "completed" || s === "finish_failed") && (
          <ConfirmButton
            label="Finish"
            danger
            question={`Finish ${campaign.title}?`}
            detail="This writes the label set and the datasets and ends the partner's access for good. It cannot be undone."
            onConfirm={change("finished")}
          />
        )}
        {s === "finishing" && <p role="status">Finishing: the label set and datasets are being written.</p>}
      </section>
      {s === "created" && <AddImages campaignId={campaign.campaign_id} onAdded={() => void load()} />}
    </>
  );
}
