import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, errorText, setUnauthorizedHandler, type Me } from "./api";
import { CampaignPage } from "./pages/Campaign";
import { CampaignsPage } from "./pages/Campaigns";
import { ExportsPage } from "./pages/Exports";
import { ImageSetPage } from "./pages/ImageSet";
import { ImageSetsPage } from "./pages/ImageSets";
import { PartnerCampaignPage, PartnerHome } from "./pages/Partner";
import { ReviewPage } from "./pages/Review";
import { SignIn } from "./pages/SignIn";
import { StatusPage } from "./pages/Status";
import { href, navigate, useRoute, type Route } from "./router";
import { clearCredentials, loadCredentials } from "./session";
import { forgetThumbnails } from "./thumbs";
import "./style.css";

function AdminPage({ route }: { route: Route }) {
  const [section, id, sub] = route.path;
  const number = Number(id);
  if (section === "sets" && id) return <ImageSetPage key={id} imagesetId={number} />;
  if (section === "sets") return <ImageSetsPage />;
  if (section === "campaigns" && id && sub === "review") return <ReviewPage key={id} campaignId={number} route={route} />;
  if (section === "campaigns" && id && sub === "exports") return <ExportsPage key={id} campaignId={number} />;
  if (section === "campaigns" && id) return <CampaignPage key={id} campaignId={number} />;
  if (section === "campaigns") return <CampaignsPage />;
  if (section === "status") return <StatusPage />;
  return <ImageSetsPage />;
}

function PartnerPage({ route, me }: { route: Route; me: Me }) {
  const [section, id] = route.path;
  if (section === "partner" && id) return <PartnerCampaignPage key={id} campaignId={Number(id)} me={me} />;
  return <PartnerHome me={me} />;
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => loadCredentials() !== null);
  const [problem, setProblem] = useState<string | null>(null);

  const signOut = () => {
    clearCredentials();
    forgetThumbnails();
    setMe(null);
    navigate("signin");
  };

  useEffect(() => {
    setUnauthorizedHandler(() => {
      forgetThumbnails();
      setMe(null);
      navigate("signin");
    });
    if (!loadCredentials()) return;
    api<Me>("GET", "/me")
      .then(setMe, (error) => setProblem(errorText(error)))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <p class="loading-page">Signing in…</p>;
  if (!me || route.path[0] === "signin") {
    return (
      <SignIn
        problem={problem}
        onSignedIn={(who) => {
          setProblem(null);
          setMe(who);
          navigate(who.role === "image-admin" ? "sets" : "partner");
        }}
      />
    );
  }
  const admin = me.role === "image-admin";
  const section = route.path[0] ?? (admin ? "sets" : "partner");
  const link = (path: string, text: string) => (
    <a href={href(path)} aria-current={section === path ? "page" : undefined}>
      {text}
    </a>
  );
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Labeling console</span>
        <nav aria-label="Sections">
          {admin ? (
            <>
              {link("sets", "Image sets")}
              {link("campaigns", "Campaigns")}
              {link("status", "Status")}
            </>
          ) : (
            link("partner", "My campaigns")
          )}
        </nav>
        <span class="who" title={me.apikey}>
          {me.email || me.apikey} · {admin ? "admin" : "partner"}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {admin ? <AdminPage route={route} /> : <PartnerPage route={route} me={me} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
