import { useCallback, useEffect, useRef, useState, type DragEvent, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { Empty, ErrorBox, Loading, ProgressBar, StatusBadge, Thumb } from "../components/ui";
import {
  ExplorerAssetEventsDocument,
  ExplorerFacetsDocument,
  ExplorerIngestDocument,
  ExplorerJobProgressDocument,
  ExplorerLibraryDocument,
  ExplorerPersonOptionsDocument,
  type AssetFilter,
  type AssetKind,
  type AssetStatus,
  type ExplorerLibraryQuery,
  type LibraryCardFragment,
} from "../gql/graphql";
import { ApiError, request, subscribe, toApiError, upload, userError } from "../lib/api";
import { formatDuration, percent } from "../lib/format";
import { useQuery } from "../lib/hooks";
import { useSession } from "../lib/session";

const PAGE_SIZE = 40;
const KINDS: AssetKind[] = ["VIDEO", "AUDIO", "IMAGE", "TEXT"];
const STATUSES: AssetStatus[] = ["REGISTERED", "PROCESSING", "READY", "FAILED"];

/** The pages scrolled in after a first page (``after``): a new first page starts afresh. */
interface MorePages {
  after: ExplorerLibraryQuery | null;
  assets: LibraryCardFragment[];
  pageInfo: ExplorerLibraryQuery["assets"]["pageInfo"];
}

function AssetCard({ asset }: { asset: LibraryCardFragment }) {
  const [live, setLive] = useState(asset);
  useEffect(() => setLive(asset), [asset]);
  const settled = live.status === "READY" || live.status === "FAILED";
  useEffect(() => {
    if (settled) return;
    return subscribe(ExplorerAssetEventsDocument, { assetId: asset.id }, (data) => {
      if (data.assetEvents.asset) setLive(data.assetEvents.asset);
    });
  }, [asset.id, settled]);
  const thumb = live.scenes.edges[0]?.node.thumbnailUrl;
  return (
    <li className="card" data-testid="asset-card" data-status={live.status}>
      <Link to={`/asset/${encodeURIComponent(live.id)}`}>
        <Thumb url={thumb} alt="" />
        <span className="card-title">{live.title}</span>
      </Link>
      <span className="card-meta">
        <span className="kind">{live.kind.toLowerCase()}</span>
        {live.durationSeconds != null && <span>{formatDuration(live.durationSeconds)}</span>}
        <StatusBadge status={live.status} />
      </span>
    </li>
  );
}

interface Task {
  id: number;
  name: string;
  jobId: string | null;
  assetId: string | null;
  progress: number;
  status: string;
  stage: string | null;
  error: ApiError | null;
}

function useIngest(onIngested: () => void) {
  const [tasks, setTasks] = useState<Task[]>([]);
  const counter = useRef(0);
  const update = (id: number, patch: Partial<Task>) =>
    setTasks((all) => all.map((task) => (task.id === id ? { ...task, ...patch } : task)));
  const start = useCallback(
    async (name: string, run: () => Promise<import("../gql/graphql").ExplorerIngestMutation>) => {
      counter.current += 1;
      const id = counter.current;
      setTasks((all) => [
        { id, name, jobId: null, assetId: null, progress: 0, status: "UPLOADING", stage: null, error: null },
        ...all,
      ]);
      try {
        const result = (await run()).ingestAsset;
        const refused = userError(result);
        if (refused || result.__typename !== "IngestAssetSuccess") {
          update(id, { status: "REFUSED", error: refused });
          return;
        }
        onIngested();
        const job = result.job;
        update(id, { assetId: result.asset.id, jobId: job?.id ?? null, status: job ? job.status : "ALREADY THERE" });
        if (!job) return;
        const stop = subscribe(
          ExplorerJobProgressDocument,
          { jobId: job.id },
          (data) => {
            const event = data.jobProgress;
            update(id, {
              progress: event.jobProgress,
              status: event.jobStatus,
              stage: event.currentStage ?? event.stage ?? null,
              error: event.errorCode ? new ApiError(event.errorMessage ?? "the job failed", event.errorCode) : null,
            });
            if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(event.jobStatus)) {
              stop();
              onIngested();
            }
          },
          (error) => update(id, { error }),
        );
      } catch (err) {
        update(id, { status: "FAILED", error: toApiError(err) });
      }
    },
    [onIngested],
  );
  return { tasks, start };
}

export function LibraryPage() {
  const [params, setParams] = useSearchParams();
  const { known, canWrite } = useSession();
  const filter: AssetFilter = {};
  const kind = params.get("kind");
  const status = params.get("status");
  const tag = params.get("tag");
  const text = params.get("q");
  const person = params.get("person");
  const language = params.get("language");
  if (kind) filter.kind = [kind as AssetKind];
  if (status) filter.status = [status as AssetStatus];
  if (tag) filter.tag = tag;
  if (text) filter.titleContains = text;
  if (person) filter.personId = person;
  if (language) filter.language = language;
  const filterKey = JSON.stringify(filter);

  // The first page follows the filter (and refreshes after an ingest); "more" holds the pages
  // scrolled in after it, and belongs to that first page only.
  const firstPage = useQuery(ExplorerLibraryDocument, { filter, first: PAGE_SIZE });
  const [more, setMore] = useState<MorePages | null>(null);
  const extra = more && more.after === firstPage.data ? more : null;
  const assets = [...(firstPage.data?.assets.edges.map((edge) => edge.node) ?? []), ...(extra?.assets ?? [])];
  const pageInfo = extra?.pageInfo ?? firstPage.data?.assets.pageInfo;
  const hasMore = pageInfo?.hasNextPage ?? false;
  const loading = firstPage.loading;
  const [moreError, setMoreError] = useState<ApiError | null>(null);
  const error = firstPage.error ?? moreError;
  const loadingMore = useRef(false);

  const loadMore = useCallback(() => {
    if (loadingMore.current || !pageInfo?.hasNextPage) return;
    const after = firstPage.data;
    loadingMore.current = true;
    request(ExplorerLibraryDocument, { filter, first: PAGE_SIZE, after: pageInfo.endCursor })
      .then((data) => {
        const nodes = data.assets.edges.map((edge) => edge.node);
        setMore((old) => ({
          after,
          assets: [...(old && old.after === after ? old.assets : []), ...nodes],
          pageInfo: data.assets.pageInfo,
        }));
        setMoreError(null);
      }, (err: unknown) => setMoreError(toApiError(err)))
      .finally(() => {
        loadingMore.current = false;
      });
  }, [pageInfo, firstPage.data, filterKey]);

  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = sentinel.current;
    if (!node || !hasMore) return;
    const observer = new IntersectionObserver((entries) => entries[0].isIntersecting && loadMore(), { rootMargin: "400px" });
    observer.observe(node);
    return () => observer.disconnect();
  }, [loadMore, hasMore]);

  const facets = useQuery(ExplorerFacetsDocument, {});
  const people = useQuery(ExplorerPersonOptionsDocument, {});
  const personOptions = people.data?.people.edges.map((edge) => edge.node) ?? [];
  const languageOptions = facets.data?.facets.find((facet) => facet.field === "LANGUAGE")?.values.map((value) => value.value) ?? [];
  if (language && !languageOptions.includes(language)) languageOptions.push(language);
  const reloadFacets = facets.reload;
  const reloadLibrary = firstPage.reload;
  const refresh = useCallback(() => {
    reloadLibrary();
    reloadFacets();
  }, [reloadLibrary, reloadFacets]);
  const { tasks, start } = useIngest(refresh);

  const setParam = (name: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next);
  };

  const uploadFiles = (files: FileList | null) => {
    if (!files) return;
    for (const file of Array.from(files)) {
      void start(file.name, () => upload(ExplorerIngestDocument, { input: { source: { upload: null as unknown as File } } }, "input.source.upload", file));
    }
  };
  const [dragging, setDragging] = useState(false);
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    if (canWrite) uploadFiles(event.dataTransfer.files);
  };
  const [url, setUrl] = useState("");
  const ingestUrl = (event: FormEvent) => {
    event.preventDefault();
    if (!url.trim()) return;
    const target = url.trim();
    setUrl("");
    void start(target, () => request(ExplorerIngestDocument, { input: { source: { url: target } } }));
  };

  return (
    <main
      className={`page library${dragging ? " dragging" : ""}`}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(canWrite);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <aside className="sidebar" aria-label="Filters">
        <label>
          Title
          <input type="search" defaultValue={text ?? ""} onChange={(e) => setParam("q", e.target.value)} placeholder="contains…" />
        </label>
        <label>
          Kind
          <select value={kind ?? ""} onChange={(e) => setParam("kind", e.target.value)}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status ?? ""} onChange={(e) => setParam("status", e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Person
          <select value={person ?? ""} onChange={(e) => setParam("person", e.target.value)}>
            <option value="">anyone</option>
            {person && !personOptions.some((p) => p.id === person) && <option value={person}>chosen person</option>}
            {personOptions.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name ?? "unnamed"} ({p.faceCount})
              </option>
            ))}
          </select>
        </label>
        <label>
          Language
          <select value={language ?? ""} onChange={(e) => setParam("language", e.target.value)}>
            <option value="">any</option>
            {languageOptions.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <ErrorBox error={people.error} />
        {tag && (
          <p>
            Tag <strong>{tag}</strong>{" "}
            <button type="button" className="link" onClick={() => setParam("tag", null)}>
              clear
            </button>
          </p>
        )}
        {facets.error?.code === "SEARCH_UNAVAILABLE" ? (
          <Empty>Facets appear once an asset is indexed.</Empty>
        ) : (
          <ErrorBox error={facets.error} />
        )}
        {facets.data?.facets.map((facet) => (
          <section key={facet.field} className="facet">
            <h2>{facet.field.toLowerCase()}</h2>
            {facet.values.length === 0 && <Empty>none yet</Empty>}
            <ul>
              {facet.values.map((value) => (
                <li key={value.value}>
                  {facet.field === "TAGS" ? (
                    <button type="button" className="link" onClick={() => setParam("tag", value.value)}>
                      {value.value}
                    </button>
                  ) : facet.field === "KIND" ? (
                    <button type="button" className="link" onClick={() => setParam("kind", value.value.toUpperCase())}>
                      {value.value.toLowerCase()}
                    </button>
                  ) : facet.field === "LANGUAGE" ? (
                    <button type="button" className="link" onClick={() => setParam("language", value.value)}>
                      {value.value}
                    </button>
                  ) : (
                    <span>{value.value}</span>
                  )}{" "}
                  <span className="count">{value.count}</span>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </aside>
      <section className="main-column">
        <h1>Library</h1>
        {canWrite ? (
          <div className="ingest">
            <label className="button">
              Upload files
              <input type="file" multiple hidden data-testid="upload-input" onChange={(e) => uploadFiles(e.target.files)} />
            </label>
            <span className="hint">or drop files anywhere on this page</span>
            <form onSubmit={ingestUrl} className="url-ingest">
              <label htmlFor="ingest-url" className="visually-hidden">
                Ingest from URL
              </label>
              <input id="ingest-url" type="url" placeholder="https://… (ingest from URL)" value={url} onChange={(e) => setUrl(e.target.value)} />
              <button type="submit">Ingest</button>
            </form>
          </div>
        ) : (
          known && <p className="hint">This key can only read: uploads are off.</p>
        )}
        {tasks.length > 0 && (
          <ul className="tasks" aria-label="Uploads">
            {tasks.map((task) => (
              <li key={task.id} data-testid="ingest-task" data-status={task.status}>
                <span className="task-name">{task.name}</span>
                <ProgressBar value={task.progress} label={`${task.name} progress`} />
                <span>
                  {task.status.toLowerCase()} {task.stage ? `· ${task.stage}` : ""} {percent(task.progress)}
                </span>
                {task.assetId && <Link to={`/asset/${encodeURIComponent(task.assetId)}`}>open</Link>}
                <ErrorBox error={task.error} />
              </li>
            ))}
          </ul>
        )}
        <ErrorBox error={error} />
        {loading ? (
          <Loading what="Loading the library" />
        ) : assets.length === 0 ? (
          <Empty>No asset matches. {canWrite && "Drop a video, audio file, image or document here to add one."}</Empty>
        ) : (
          <ul className="grid" data-testid="library-grid">
            {assets.map((asset) => (
              <AssetCard key={asset.id} asset={asset} />
            ))}
          </ul>
        )}
        <div ref={sentinel} />
        {hasMore && !loading && (
          <button type="button" onClick={loadMore}>
            Load more
          </button>
        )}
      </section>
    </main>
  );
}
