import { useState } from "preact/hooks";
import { api, ApiError, errorText, type Me } from "../api";
import { ErrorBox, Field } from "../components";
import { clearCredentials, saveCredentials } from "../session";

/** Sign in with the API key pair; kept in this tab's sessionStorage only. */
export function SignIn(props: { problem: string | null; onSignedIn: (me: Me) => void }) {
  const [key, setKey] = useState("");
  const [secret, setSecret] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(props.problem);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    saveCredentials({ key: key.trim(), secret: secret.trim() });
    try {
      props.onSignedIn(await api<Me>("GET", "/me"));
    } catch (error) {
      clearCredentials();
      setProblem(error instanceof ApiError && error.status === 401 ? "Unknown key or wrong secret." : errorText(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <h1>Labeling console</h1>
      <p class="muted">Sign in with your API key and secret. They stay in this browser tab only and are forgotten when it closes.</p>
      <form onSubmit={submit} aria-label="Sign in">
        <Field label="Authentication-Key" id="signin-key">
          <input id="signin-key" name="key" autocomplete="username" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </Field>
        <Field label="Authentication-Secret" id="signin-secret">
          <input
            id="signin-secret"
            name="secret"
            type="password"
            autocomplete="current-password"
            required
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={problem} />
        <button class="primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
