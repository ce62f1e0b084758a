import { useEffect, useState } from "preact/hooks";
import { api, errorText, query, type Campaign, type Pagination } from "../api";
import { CopyButton, ErrorBox, Field, Pager, ProgressBar, StatusBadge, when } from "../components";
import { href } from "../router";
import { campaignTitleProblem, parseJsonObject } from "../rules";

type Created = Campaign & { access_token: { apikey: string; apisecret: string | null } };

/** The partner's key pair, shown this once (only a hash of the secret is stored). */
function AccessToken({ created }: { created: Created }) {
  const { apikey, apisecret } = created.access_token;
  return (
    <section class="card secret" aria-label="Partner credentials" role="region">
      <h2>Partner credentials for {created.title}</h2>
      {apisecret ? (
        <p class="warning" role="alert">
          Copy the secret now and hand it to the partner safely: it is shown only this once and cannot be shown again.
        </p>
      ) : (
        <p class="warning" role="alert">
          This partner exists already: its key now also covers this campaign, and its secret is unchanged (not shown).
        </p>
      )}
      <dl class="facts">
        <dt>Authentication-Key</dt>
        <dd>
          <code data-testid="partner-key">{apikey}</code> <CopyButton text={apikey} label="Copy the partner's key" />
        </dd>
        {apisecret && (
          <>
            <dt>Authentication-Secret</dt>
            <dd>
              <code data-testid="partner-secret">{apisecret}</code> <CopyButton text={apisecret} label="Copy the partner's secret" />
            </dd>
          </>
        )}
      </dl>
      <a href={href(`campaigns/${created.campaign_id}`)}>Go to campaign {created.title} →</a>
    </section>
  );
}

function CreateCampaign(props: { onCreated: (c: Created) => void }) {
  const [title, setTitle] = useState("");
  const [email, setEmail] = useState("");
  const [metadata, setMetadata] = useState("");
  const [translations, setTranslations] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const titleProblem = title ? campaignTitleProblem(title) : null;
  const meta = parseJsonObject(metadata);
  const trans = parseJsonObject(translations);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (campaignTitleProblem(title) || meta.problem || trans.problem) return;
    setBusy(true);
    setProblem(null);
    try {
      const created = await api<Created>("POST", "/campaigns", {
        title,
        labeler_email: email.trim(),
        ...(meta.value ? { metadata: meta.value } : {}),
        ...(trans.value ? { label_translations: trans.value } : {}),
      });
      props.onCreated(created);
      setTitle("");
      setEmail("");
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Create a campaign">
      <h2>New campaign</h2>
      <Field label="Title" id="campaign-title" problem={titleProblem} hint="Letters, digits, '.', '_' and '-'; it names the label set and datasets.">
        <input
          id="campaign-title"
          value={title}
          aria-invalid={titleProblem ? "true" : "false"}
          aria-describedby="campaign-title-problem"
          onInput={(e) => setTitle(e.currentTarget.value)}
        />
      </Field>
      <Field label="Partner's e-mail" id="campaign-email" hint="A new address gets a new key and secret; an existing partner's key gains this campaign.">
        <input id="campaign-email" type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </Field>
      <Field label="Metadata (optional JSON object)" id="campaign-metadata" problem={meta.problem}>
        <textarea id="campaign-metadata" rows={2} value={metadata} onInput={(e) => setMetadata(e.currentTarget.value)} />
      </Field>
      <Field label="Label translations (optional JSON object: partner label → ours)" id="campaign-translations" problem={trans.problem}>
        <textarea
          id="campaign-translations"
          rows={2}
          value={translations}
          placeholder='{"Plastic": "plastic"}'
          onInput={(e) => setTranslations(e.currentTarget.value)}
        />
      </Field>
      <ErrorBox error={problem} />
      <button class="primary" type="submit" disabled={busy || !title || !email || Boolean(titleProblem) || Boolean(meta.problem) || Boolean(trans.problem)}>
        Create campaign
      </button>
    </form>
  );
}

export function CampaignsPage() {
  const [page, setPage] = useState(1);
  const [data, setData] = useState<{ campaigns: Campaign[]; pagination: Pagination } | null>(null);
  const [created, setCreated] = useState<Created | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () =>
    api<{ campaigns: Campaign[]; pagination: Pagination }>("GET", `/campaigns${query({ page, per_page: 20 })}`).then(setData, (e) => setProblem(errorText(e)));
  useEffect(() => void load(), [page]);
  return (
    <>
      <h1>Campaigns</h1>
      {created && <AccessToken created={created} />}
      <div class="two-col">
        <section aria-label="Campaign list">
          <ErrorBox error={problem} />
          {data && (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Id</th>
                    <th scope="col">Title</th>
                    <th scope="col">Status</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {data.campaigns.map((c) => (
                    <tr key={c.campaign_id}>
                      <td>{c.campaign_id}</td>
                      <td>
                        <a href={href(`campaigns/${c.campaign_id}`)}>{c.title}</a>
                      </td>
                      <td>
                        <StatusBadge status={c.status} />
                      </td>
                      <td class="wide">
                        <ProgressBar done={c.progress.done} total={c.progress.total} label={`Progress of ${c.title}`} />
                      </td>
                      <td>{when(c.date_created)}</td>
                    </tr>
                  ))}
                  {!data.campaigns.length && (
                    <tr>
                      <td colSpan={5} class="muted">
                        No campaigns yet.
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </div>
          )}
          <Pager pagination={data?.pagination ?? null} onPage={setPage} label="Campaign pages" />
        </section>
        <CreateCampaign
          onCreated={(c) => {
            setCreated(c);
            void load();
            scrollTo(0, 0);
          }}
        />
      </div>
    </>
  );
}
