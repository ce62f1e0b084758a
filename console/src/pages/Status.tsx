import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api";
import { ErrorBox } from "../components";

interface Health {
  healthy: boolean;
  checks: Record<string, { ok: boolean; detail: string }>;
}

export function StatusPage() {
  const [health, setHealth] = useState<Health | null>(null);
  const [version, setVersion] = useState<Record<string, string> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [checkedAt, setCheckedAt] = useState<Date | null>(null);
  const load = () => {
    // 503 still carries the report: show which part is down.
    api<Health>("GET", "/info/status", undefined, { allowStatus: [503] }).then(
      (h) => {
        setHealth(h);
        setCheckedAt(new Date());
      },
      (e) => setProblem(errorText(e)),
    );
    api<Record<string, string>>("GET", "/info/version").then(setVersion, (e) => setProblem(errorText(e)));
  };
  useEffect(load, []);
  return (
    <>
      <h1>Status</h1>
      <ErrorBox error={problem} />
      {health && (
        <section class="card" aria-label="Health">
          <h2>
            {health.healthy ? "Healthy" : "Something is down"}{" "}
            <span class={`badge ${health.healthy ? "status-finished" : "status-failed"}`}>{health.healthy ? "ok" : "down"}</span>
          </h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">State</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(health.checks).map(([name, check]) => (
                  <tr key={name}>
                    <td>{name.replace(/_/g, " ")}</td>
                    <td>
                      <span class={`badge ${check.ok ? "status-finished" : "status-failed"}`}>{check.ok ? "ok" : "down"}</span>
                    </td>
                    <td>{check.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p class="muted">
            Checked {checkedAt?.toLocaleTimeString()}{" "}
            <button type="button" onClick={load}>
              Check again
            </button>
          </p>
        </section>
      )}
      {version && (
        <section class="card" aria-label="Version">
          <h2>Version</h2>
          <dl class="facts">
            {Object.entries(version).map(([k, v]) => (
              <Fragment key={k}>
                <dt>{k}</dt>
                <dd>{String(v)}</dd>
              </Fragment>
            ))}
          </dl>
        </section>
      )}
    </>
  );
}
