import type { ReactNode } from "react";
import { ApiError } from "../lib/api";

export function ErrorBox({ error }: { error: ApiError | Error | null }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : "ERROR";
  return (
    <div className="error" role="alert">
      <span>{error.message}</span> <code className="error-code">{code}</code>
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="loading" aria-busy="true">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status.toLowerCase()}`}>{status.toLowerCase()}</span>;
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value * 100)}>
      <div className="progress-fill" style={{ width: `${Math.min(100, Math.max(0, value * 100))}%` }} />
    </div>
  );
}

export function Thumb({ url, alt }: { url: string | null | undefined; alt: string }) {
  return url ? <img className="thumb" src={url} alt={alt} loading="lazy" /> : <div className="thumb thumb-none" aria-hidden="true" />;
}
