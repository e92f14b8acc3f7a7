import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { Empty, ErrorBox, Loading, ProgressBar, StatusBadge, Thumb } from "../components/ui";
import {
  ExplorerAssetAuditDocument,
  ExplorerAssetDocument,
  ExplorerCancelJobDocument,
  ExplorerRetryJobDocument,
  ExplorerUpgradeTranscriptDocument,
  ExplorerUpdateAssetDocument,
  type ExplorerAssetQuery,
  type ExplorerJobFragment,
} from "../gql/graphql";
import { ApiError, request, toApiError, userError } from "../lib/api";
import { formatBytes, formatDuration, formatTime, percent, reasonText } from "../lib/format";
import { useQuery } from "../lib/hooks";
import { useSession } from "../lib/session";

type Asset = NonNullable<ExplorerAssetQuery["asset"]>;

function EditDetails({ asset, onSaved }: { asset: Asset; onSaved: () => void }) {
  const [title, setTitle] = useState(asset.title);
  const [tags, setTags] = useState(asset.tags.join(", "));
  const [error, setError] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState(false);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaving(true);
    try {
      const result = await request(ExplorerUpdateAssetDocument, {
        input: { id: asset.id, title, tags: tags.split(",").map((t) => t.trim()).filter(Boolean) },
      });
      const refused = userError(result.updateAsset);
      setError(refused);
      if (!refused) onSaved();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <form className="edit" onSubmit={save} aria-label="Edit title and tags">
      <label>
        Title <input value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label>
        Tags <input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="comma, separated" />
      </label>
      <button type="submit" disabled={saving}>
        Save
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

const QUALITY_LABELS: Record<ExplorerJobFragment["quality"], string> = {
  ROUTED: "routed",
  ACCURATE: "upgrade: accurate model",
  ESCALATION: "escalation: unsure spans on the accurate model",
};

/** Queue an ACCURATE job over the asset's speech (an upgrade on demand). */
function UpgradeButton({ id, onQueued }: { id: string; onQueued: () => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const upgrade = async () => {
    try {
      const refused = userError((await request(ExplorerUpgradeTranscriptDocument, { id })).reprocessAsset);
      setError(refused);
      if (!refused) onQueued();
    } catch (err) {
      setError(toApiError(err));
    }
  };
  return (
    <>
      <button type="button" onClick={() => void upgrade()}>
        Upgrade transcript
      </button>
      <ErrorBox error={error} />
    </>
  );
}

function JobCard({ job, onChanged }: { job: ExplorerJobFragment; onChanged: () => void }) {
  const { canWrite } = useSession();
  const [error, setError] = useState<ApiError | null>(null);
  const act = async (kind: "retry" | "cancel") => {
    try {
      const result =
        kind === "retry"
          ? (await request(ExplorerRetryJobDocument, { id: job.id })).retryJob
          : (await request(ExplorerCancelJobDocument, { id: job.id })).cancelJob;
      const refused = userError(result);
      setError(refused);
      if (!refused) onChanged();
    } catch (err) {
      setError(toApiError(err));
    }
  };
  return (
    <li className="job" data-testid="job" data-status={job.status}>
      <div className="job-head">
        <StatusBadge status={job.status} /> {job.pipeline}
        {job.quality !== "ROUTED" && <span className="hint"> ({QUALITY_LABELS[job.quality]})</span>} ·{" "}
        {percent(job.progress)}
        {job.currentStage && <span> · {job.currentStage}</span>}
        {canWrite && (job.status === "FAILED" || job.status === "CANCELLED") && (
          <button type="button" onClick={() => void act("retry")}>
            Retry
          </button>
        )}
        {canWrite && (job.status === "QUEUED" || job.status === "RUNNING") && (
          <button type="button" onClick={() => void act("cancel")}>
            Cancel
          </button>
        )}
      </div>
      {job.errorCode && <ErrorBox error={new ApiError(job.errorMessage ?? "failed", job.errorCode)} />}
      <ol className="stages">
        {job.stages.edges.map(({ node: stage }) => (
          <li key={stage.name} className={`stage stage-${stage.status.toLowerCase()}`}>
            <span className="stage-name">{stage.name}</span>
            <ProgressBar value={stage.progress} label={`${stage.name} progress`} />
            <span>{stage.status.toLowerCase()}</span>
            {stage.skipReason && <span className="hint">{stage.skipReason}</span>}
            {stage.errorCode && <code className="error-code">{stage.errorCode}</code>}
            {stage.errorMessage && <span className="error-text">{stage.errorMessage}</span>}
          </li>
        ))}
      </ol>
      <ErrorBox error={error} />
    </li>
  );
}

function Audit({ id }: { id: string }) {
  const audit = useQuery(ExplorerAssetAuditDocument, { id });
  if (audit.loading) return <Loading what="Loading the audit trail" />;
  if (audit.error) return <ErrorBox error={audit.error} />;
  const events = audit.data?.asset?.auditEvents.edges ?? [];
  if (!events.length) return <Empty>No change recorded.</Empty>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>When</th>
          <th>Who</th>
          <th>What</th>
          <th>Details</th>
        </tr>
      </thead>
      <tbody>
        {events.map(({ node }) => (
          <tr key={node.id}>
            <td>{new Date(node.occurredAt).toLocaleString()}</td>
            <td>{node.actor}</td>
            <td>{node.action}</td>
            <td>
              <code>{JSON.stringify(node.details)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AssetPage() {
  const { id = "" } = useParams();
  const [params] = useSearchParams();
  const { canWrite, isAdmin } = useSession();
  const query = useQuery(ExplorerAssetDocument, { id });
  const player = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  const [now, setNow] = useState(0);
  const asset = query.data?.asset;
  const start = Number(params.get("t") ?? "0");

  // Jump to ?t= (a search result's time code) once the media can seek.
  useEffect(() => {
    const media = player.current;
    if (!media || !start) return;
    const seek = () => {
      media.currentTime = start;
      setNow(start);
    };
    if (media.readyState >= 1) seek();
    else media.addEventListener("loadedmetadata", seek, { once: true });
  }, [asset?.id, start]);

  const seek = (seconds: number) => {
    const media = player.current;
    if (media) media.currentTime = seconds;
    setNow(seconds);
  };

  const duration = asset?.durationSeconds ?? 0;
  const tracks = useMemo(() => {
    const byLabel = new Map<string, { kind: string; label: string; times: number[] }>();
    for (const { node } of asset?.detections.edges ?? []) {
      const key = `${node.kind}:${node.label}`;
      const track = byLabel.get(key) ?? { kind: node.kind, label: node.label, times: [] };
      track.times.push(node.timeSeconds);
      byLabel.set(key, track);
    }
    return [...byLabel.values()].sort((a, b) => a.kind.localeCompare(b.kind) || b.times.length - a.times.length);
  }, [asset]);

  if (query.loading && !asset) return <Loading what="Loading the asset" />;
  if (query.error) return (
    <main className="page">
      <ErrorBox error={query.error} />
    </main>
  );
  if (!asset) return (
    <main className="page">
      <h1>Asset not found</h1>
      <Link to="/">Back to the library</Link>
    </main>
  );
  const scenes = asset.scenes.edges.map((e) => e.node);
  const segments = asset.transcript.edges.map((e) => e.node);
  const at = (seconds: number) => (duration ? `${(100 * seconds) / duration}%` : "0");
  const activeSegment = segments.find((s) => now >= s.startSeconds && now < s.endSeconds);

  return (
    <main className="page asset">
      <header className="asset-head">
        <h1>{asset.title}</h1>
        <p className="meta">
          {asset.kind.toLowerCase()} · <StatusBadge status={asset.status} />
          {asset.durationSeconds != null && <> · {formatDuration(asset.durationSeconds)}</>}
          {asset.width != null && <> · {asset.width}×{asset.height}</>} · {formatBytes(asset.sizeBytes)} · {asset.mimeType}
          {asset.language && <> · {asset.language}</>}
        </p>
        <p className="tags">
          {asset.tags.map((tag) => (
            <Link key={tag} className="tag" to={`/?tag=${encodeURIComponent(tag)}`}>
              {tag}
            </Link>
          ))}
        </p>
        <p className="actions">
          <Link to={`/relations/${encodeURIComponent(asset.id)}`}>Relations graph</Link>
        </p>
      </header>
      <div className="asset-body">
        <section className="player-column">
          {asset.kind === "VIDEO" && asset.contentUrl && (
            <video ref={player} data-testid="player" src={asset.contentUrl} controls preload="metadata" onTimeUpdate={(e) => setNow(e.currentTarget.currentTime)} onSeeked={(e) => setNow(e.currentTarget.currentTime)} />
          )}
          {asset.kind === "AUDIO" && asset.contentUrl && (
            <audio ref={player} data-testid="player" src={asset.contentUrl} controls preload="metadata" onTimeUpdate={(e) => setNow(e.currentTarget.currentTime)} onSeeked={(e) => setNow(e.currentTarget.currentTime)} />
          )}
          {asset.kind === "IMAGE" && <Thumb url={scenes[0]?.keyframeUrl} alt={asset.title} />}
          {duration > 0 && (
            <section aria-label="Scenes" className="timeline">
              <h2>Scenes</h2>
              <ol className="scene-strip">
                {scenes.map((scene) => (
                  <li key={scene.id} style={{ left: at(scene.startSeconds), width: at(scene.endSeconds - scene.startSeconds) }}>
                    <button type="button" onClick={() => seek(scene.startSeconds)} aria-label={`Scene ${scene.ordinal + 1} at ${formatTime(scene.startSeconds)}`}>
                      <Thumb url={scene.thumbnailUrl} alt="" />
                    </button>
                  </li>
                ))}
                <li className="playhead" style={{ left: at(now) }} aria-hidden="true" />
              </ol>
              {tracks.length > 0 && (
                <div className="tracks" aria-label="Detections">
                  {tracks.slice(0, 12).map((track) => (
                    <div className="track" key={`${track.kind}:${track.label}`}>
                      <span className="track-label">
                        <span className="kind">{track.kind.toLowerCase()}</span> {track.label}
                      </span>
                      <span className="track-lane">
                        {track.times.map((t, i) => (
                          <button key={i} type="button" className="mark" style={{ left: at(t) }} onClick={() => seek(t)} aria-label={`${track.label} at ${formatTime(t)}`} />
                        ))}
                      </span>
                    </div>
                  ))}
                </div>
              )}
            </section>
          )}
          {canWrite && <EditDetails key={asset.id + asset.title + asset.tags.join()} asset={asset} onSaved={query.reload} />}
        </section>
        <section className="side-column">
          <h2>Transcript</h2>
          {segments.length === 0 ? (
            <Empty>{asset.status === "READY" ? "Nothing was said." : "Not transcribed yet."}</Empty>
          ) : (
            <ol className="transcript" data-testid="transcript">
              {segments.map((segment) => (
                <li key={segment.id}>
                  <button
                    type="button"
                    aria-current={segment === activeSegment ? "true" : undefined}
                    className={segment === activeSegment ? "active" : ""}
                    onClick={() => seek(segment.startSeconds)}
                    data-start={segment.startSeconds}
                  >
                    <span className="time">{formatTime(segment.startSeconds)}</span> {segment.text}
                  </button>
                </li>
              ))}
            </ol>
          )}
          <h2>Related</h2>
          {asset.related.edges.length === 0 ? (
            <Empty>{asset.status === "READY" ? "Nothing related yet." : "Not analysed yet."}</Empty>
          ) : (
            <ul className="similar" data-testid="related">
              {asset.related.edges.map((edge) => (
                <li key={edge.node.id}>
                  <Link to={`/asset/${encodeURIComponent(edge.node.id)}`}>
                    <Thumb url={edge.node.scenes.edges[0]?.node.thumbnailUrl} alt="" />
                    <span>{edge.node.title}</span>
                  </Link>
                  <span className="reason">
                    {edge.reasons.map(reasonText).join(" · ")}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <h2>Jobs</h2>
          {canWrite && (asset.kind === "VIDEO" || asset.kind === "AUDIO") && (
            <UpgradeButton id={asset.id} onQueued={query.reload} />
          )}
          {asset.jobs.edges.length === 0 ? (
            <Empty>No job.</Empty>
          ) : (
            <ul className="jobs">
              {asset.jobs.edges.map(({ node }) => (
                <JobCard key={node.id} job={node} onChanged={query.reload} />
              ))}
            </ul>
          )}
          {isAdmin && (
            <>
              <h2>Audit trail</h2>
              <Audit id={asset.id} />
            </>
          )}
        </section>
      </div>
    </main>
  );
}
