import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Pagination } from "./api";

export function ProgressBar(props: { done: number; total: number; label: string }) {
  const { done, total } = props;
  const percent = total > 0 ? Math.min(100, (done / total) * 100) : 0;
  return (
    <div class="progress">
      <div class="bar" role="progressbar" aria-label={props.label} aria-valuemin={0} aria-valuemax={total} aria-valuenow={done}>
        <span style={{ width: `${percent}%` }} />
      </div>
      <span class="progress-text">
        {done.toLocaleString()} / {total.toLocaleString()}
      </span>
    </div>
  );
}

export const StatusBadge = (props: { status: string }) => <span class={`badge status-${props.status}`}>{props.status.replace(/_/g, " ")}</span>;

export function ErrorBox(props: { error: string | null }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

export function Pager(props: { pagination: Pagination | null; onPage: (page: number) => void; label?: string }) {
  const p = props.pagination;
  if (!p || p.pages <= 1) return null;
  return (
    <nav class="pager" aria-label={props.label ?? "Pages"}>
      <button type="button" disabled={!p.prev} onClick={() => p.prev && props.onPage(p.prev)}>
        ← Previous
      </button>
      <span>
        Page {p.page} of {p.pages} ({p.total.toLocaleString()} in all)
      </span>
      <button type="button" disabled={!p.next} onClick={() => p.next && props.onPage(p.next)}>
        Next →
      </button>
    </nav>
  );
}

/** A button that asks first, in a modal dialog (keyboard: Esc cancels, focus starts on Cancel). */
export function ConfirmButton(props: {
  label: string;
  question: string;
  detail?: string;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => void | Promise<void>;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button type="button" class={props.danger ? "danger" : "primary"} disabled={props.disabled || busy} onClick={() => dialog.current?.showModal()}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.question}>
        <form method="dialog">
          <h3>{props.question}</h3>
          {props.detail && <p>{props.detail}</p>}
          <div class="actions">
            <button type="submit" value="cancel" autofocus>
              Cancel
            </button>
            <button
              type="button"
              class={props.danger ? "danger" : "primary"}
              onClick={async () => {
                dialog.current?.close();
                setBusy(true);
                try {
                  await props.onConfirm();
                } finally {
                  setBusy(false);
                }
              }}
            >
              {props.confirmLabel ?? props.label}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

export function CopyButton(props: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      aria-label={props.label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(props.text);
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        } catch {
          setCopied(false);
        }
      }}
    >
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

export function Field(props: { label: string; id: string; hint?: string | null; problem?: string | null; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.problem ? (
        <p class="problem" id={`${props.id}-problem`} role="status">
          {props.problem}
        </p>
      ) : props.hint ? (
        <p class="hint" id={`${props.id}-problem`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

/** Runs `tick` now and every `ms` while `active`; stops when the component goes. */
export function usePolling(tick: () => void, ms: number, active: boolean): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms, active]);
}

export const when = (timestamp: string | null) => (timestamp ? new Date(timestamp).toLocaleString() : "—");

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
