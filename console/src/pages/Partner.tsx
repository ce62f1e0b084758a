import { useEffect, useState } from "preact/hooks";
import { api, errorText, query, type CampaignImage, type Me, type Pagination } from "../api";
import { ErrorBox, Pager, ProgressBar, StatusBadge, when } from "../components";
import { LabeledImage, Legend, labelsOf } from "../overlay";
import { href } from "../router";

/** A partner's campaigns (from GET /me) with their progress. */
export function PartnerHome({ me }: { me: Me }) {
  const campaigns = me.campaigns ?? [];
  return (
    <>
      <h1>My campaigns</h1>
      {!campaigns.length && <p class="muted">This key has no campaigns yet.</p>}
      <ul class="cards">
        {campaigns.map((c) => (
          <li key={c.campaign_id} class="card">
            <h2>
              {c.access_ended ? c.title : <a href={href(`partner/${c.campaign_id}`)}>{c.title}</a>} <StatusBadge status={c.status} />
            </h2>
            <ProgressBar done={c.progress.done} total={c.progress.total} label={`Progress of ${c.title}`} />
            {c.access_ended && <p class="muted">This campaign is finished; labels can no longer be sent.</p>}
          </li>
        ))}
      </ul>
    </>
  );
}

type Rejected = CampaignImage & { width: number; height: number };

export function PartnerCampaignPage(props: { campaignId: number; me: Me }) {
  const campaign = props.me.campaigns?.find((c) => c.campaign_id === props.campaignId);
  const [todoPage, setTodoPage] = useState(1);
  const [todo, setTodo] = useState<{ images: CampaignImage[]; pagination: Pagination } | null>(null);
  const [rejectedPage, setRejectedPage] = useState(1);
  const [rejected, setRejected] = useState<{ images: Rejected[]; pagination: Pagination } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    api<{ images: CampaignImage[]; pagination: Pagination }>(
      "GET",
      `/campaigns/${props.campaignId}/images${query({ label_status: "unlabeled,rejected", page: todoPage, per_page: 60 })}`,
    ).then(setTodo, (e) => setProblem(errorText(e)));
  }, [props.campaignId, todoPage]);
  useEffect(() => {
    api<{ images: Rejected[]; pagination: Pagination }>("GET", `/campaigns/${props.campaignId}/rejected${query({ page: rejectedPage, per_page: 20 })}`).then(
      setRejected,
      (e) => setProblem(errorText(e)),
    );
  }, [props.campaignId, rejectedPage]);
  return (
    <>
      <h1>
        {campaign?.title ?? `Campaign ${props.campaignId}`} {campaign && <StatusBadge status={campaign.status} />}
      </h1>
      {campaign && <ProgressBar done={campaign.progress.done} total={campaign.progress.total} label={`Progress of ${campaign.title}`} />}
      <p class="muted">
        Labels are sent through the API: <code>PUT /api/v1/campaigns/{props.campaignId}/objects</code>.
      </p>
      <ErrorBox error={problem} />
      <section aria-label="Rejected images">
        <h2>Rejected: to label again ({rejected?.pagination.total ?? "…"})</h2>
        {rejected && !rejected.images.length && <p class="muted">Nothing was rejected.</p>}
        <ul class="rejected">
          {rejected?.images.map((image) => (
            <li key={image.image_id} class="card" data-image-id={image.image_id}>
              <LabeledImage imageId={image.image_id} objects={image.objects ?? []} size={512} />
              <div>
                <h3>Image {image.image_id}</h3>
                <p class="comment">
                  <strong>Reviewer's comment:</strong> {image.review_comment}
                </p>
                <p class="muted">
                  Rejected labels ({(image.objects ?? []).length}), drawn on the image · {when(image.last_activity)}
                </p>
                <Legend labels={labelsOf([image.objects])} />
              </div>
            </li>
          ))}
        </ul>
        <Pager pagination={rejected?.pagination ?? null} onPage={setRejectedPage} label="Rejected pages" />
      </section>
      <section aria-label="Images to label">
        <h2>Still to label ({todo?.pagination.total ?? "…"})</h2>
        {todo && !todo.images.length && <p class="muted">Nothing left to label.</p>}
        <ul class="grid">
          {todo?.images.map((image) => (
            <li key={image.image_id} class="tile">
              <LabeledImage imageId={image.image_id} />
              <span class="caption">
                #{image.image_id} <StatusBadge status={image.label_status} />
              </span>
            </li>
          ))}
        </ul>
        <Pager pagination={todo?.pagination ?? null} onPage={setTodoPage} label="To-label pages" />
      </section>
    </>
  );
}
