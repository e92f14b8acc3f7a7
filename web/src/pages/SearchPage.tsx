import { useEffect, useState, type DragEvent, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { Empty, ErrorBox, Loading, Thumb } from "../components/ui";
import {
  ExplorerSearchByImageDocument,
  ExplorerSearchDocument,
  type ExplorerHitsFragment,
  type SearchMode,
  type SearchScope,
} from "../gql/graphql";
import { ApiError, toApiError, upload } from "../lib/api";
import { formatTime, percent } from "../lib/format";
import { useQuery } from "../lib/hooks";

const MODES: SearchMode[] = ["HYBRID", "TEXT", "SEMANTIC"];

/** A fragment from the API: HTML-escaped text with <mark> around matched words. Rendered from
 * its parts (never as HTML), so nothing but the marks becomes markup. */
function Highlight({ fragment }: { fragment: string }) {
  const parts = fragment.split(/<\/?mark>/);
  const unescape = (text: string) =>
    text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#39;/g, "'").replace(/&amp;/g, "&");
  return (
    <span className="snippet">
      {parts.map((part, i) => (i % 2 ? <mark key={i}>{unescape(part)}</mark> : <span key={i}>{unescape(part)}</span>))}
    </span>
  );
}

function Results({ hits, cutoff }: { hits: ExplorerHitsFragment; cutoff: number | null }) {
  if (!hits.edges.length)
    return <Empty>No good match{cutoff != null ? ` at a relevance of ${percent(cutoff)} or more` : " (the server's default relevance cutoff applies)"}.</Empty>;
  return (
    <>
      <p className="hint" data-testid="search-summary">
        {hits.totalCount} candidates · retrievers {hits.retrievers.join(", ").toLowerCase()}
        {" "}· relevance cutoff {cutoff != null ? percent(cutoff) : "the server's default"} (hits below it are hidden)
      </p>
      <ol className="hits" data-testid="hits">
        {hits.edges.map(({ node: hit, cursor }) => {
          const at = hit.playFromSeconds;
          const to = `/asset/${encodeURIComponent(hit.asset.id)}${at ? `?t=${at.toFixed(2)}` : ""}`;
          return (
            <li key={cursor} className="hit">
              <Link to={to} data-testid="hit-link" data-play-from={at}>
                <Thumb url={hit.scene?.thumbnailUrl} alt="" />
                <span className="hit-title">{hit.asset.title}</span>
                {hit.kind === "MOMENT" && <span className="time">{formatTime(at)}</span>}
              </Link>
              <span className="score" title="calibrated relevance (0 to 1) and the fused ranking score">
                relevance {percent(hit.relevance)} · score {hit.score.toFixed(4)} ·{" "}
                {hit.matchedFields.length ? hit.matchedFields.join(", ").toLowerCase() : "similar in meaning or look (no word matched)"}
              </span>
              {hit.highlights.map((h, i) => (
                <p key={i} className="highlight">
                  <span className="field">{h.field.toLowerCase()}</span> <Highlight fragment={h.fragment} />
                </p>
              ))}
            </li>
          );
        })}
      </ol>
    </>
  );
}

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const text = params.get("q") ?? "";
  const mode = (params.get("mode") as SearchMode) || "HYBRID";
  const scope = (params.get("scope") as SearchScope) || "MOMENT";
  const cutoffParam = params.get("min");
  const cutoff = cutoffParam ? Number(cutoffParam) : null;
  const [draft, setDraft] = useState(text);
  // A picture's search (an upload, run on demand); a text search replaces it.
  const [image, setImage] = useState<{ name: string; hits: ExplorerHitsFragment | null; error: ApiError | null } | null>(null);
  const textSearch = useQuery(ExplorerSearchDocument, { query: { text, mode, scope, minRelevance: cutoff }, first: 20 }, { skip: !text });

  useEffect(() => setDraft(text), [text]);
  useEffect(() => {
    if (text) setImage(null);
  }, [text]);
  const hits = text ? (textSearch.data?.search ?? null) : (image?.hits ?? null);
  const error = text ? textSearch.error : (image?.error ?? null);
  const loading = text ? textSearch.loading : image !== null && !image.hits && !image.error;

  const update = (patch: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(patch)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    setParams(next);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    update({ q: draft.trim() || null });
  };
  const byImage = (file: File | undefined) => {
    if (!file) return;
    const name = file.name;
    setImage({ name, hits: null, error: null });
    update({ q: null });
    upload(ExplorerSearchByImageDocument, { image: null as unknown as File, scope }, "image", file).then(
      (data) => setImage({ name, hits: data.searchByImage, error: null }),
      (err: unknown) => setImage({ name, hits: null, error: toApiError(err) }),
    );
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    byImage(event.dataTransfer.files[0]);
  };

  return (
    <main className="page search" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <h1>Search</h1>
      <form role="search" onSubmit={submit} className="search-form">
        <label htmlFor="search-box" className="visually-hidden">
          Search
        </label>
        <input id="search-box" type="search" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="What is said, shown or written…" autoFocus />
        <button type="submit">Search</button>
      </form>
      <div className="search-options">
        <fieldset>
          <legend>Mode</legend>
          {MODES.map((m) => (
            <label key={m}>
              <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => update({ mode: m })} /> {m.toLowerCase()}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Results</legend>
          {(["MOMENT", "ASSET"] as SearchScope[]).map((s) => (
            <label key={s}>
              <input type="radio" name="scope" value={s} checked={scope === s} onChange={() => update({ scope: s })} /> {s === "MOMENT" ? "moments" : "assets"}
            </label>
          ))}
        </fieldset>
        <label>
          Relevance at least{" "}
          <select value={cutoffParam ?? ""} onChange={(e) => update({ min: e.target.value || null })} data-testid="cutoff">
            <option value="">server default</option>
            {["0", "0.1", "0.25", "0.5", "0.75", "0.9"].map((v) => (
              <option key={v} value={v}>
                {percent(Number(v))}
              </option>
            ))}
          </select>
        </label>
        <label className="button">
          Search by image
          <input type="file" accept="image/*" hidden data-testid="image-input" onChange={(e) => byImage(e.target.files?.[0])} />
        </label>
        <span className="hint">or drop a picture here</span>
      </div>
      {!text && image && <p className="hint">Moments that look like {image.name}</p>}
      <ErrorBox error={error} />
      {loading ? <Loading what="Searching" /> : hits ? <Results hits={hits} cutoff={cutoff} /> : <Empty>Type words that are spoken, shown on screen or written, or drop a picture.</Empty>}
    </main>
  );
}
