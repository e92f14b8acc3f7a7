import { useState } from "react";
import { Link } from "react-router-dom";
import { Empty, ErrorBox, Loading, StatusBadge, Thumb } from "../components/ui";
import {
  ExplorerDuplicatesDocument,
  ExplorerResolveDuplicatesDocument,
  type DuplicateAction,
  type ExplorerDuplicatesQuery,
} from "../gql/graphql";
import { ApiError, request, toApiError, userError } from "../lib/api";
import { formatBytes, formatDuration, percent } from "../lib/format";
import { useQuery } from "../lib/hooks";
import { useSession } from "../lib/session";

type Cluster = ExplorerDuplicatesQuery["duplicates"]["edges"][number]["node"];
type Member = Cluster["assets"][number];

const FACTS: [string, (a: Member) => string][] = [
  ["kind", (a) => a.kind.toLowerCase()],
  ["type", (a) => a.mimeType],
  ["size", (a) => formatBytes(a.sizeBytes)],
  ["frame", (a) => (a.width ? `${a.width}×${a.height}` : "")],
  ["duration", (a) => formatDuration(a.durationSeconds)],
  ["added", (a) => new Date(a.createdAt).toLocaleString()],
];

function ClusterView({ cluster, onResolved }: { cluster: Cluster; onResolved: () => void }) {
  const { canWrite } = useSession();
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const resolve = async (kept: Member, action: DuplicateAction) => {
    setBusy(true);
    try {
      const result = await request(ExplorerResolveDuplicatesDocument, {
        input: { clusterId: cluster.id, keep: kept.id, action },
      });
      const refused = userError(result.resolveDuplicates);
      if (refused) throw refused;
      onResolved();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className="cluster" data-testid="cluster">
      <p className="hint">
        {cluster.size} assets · {cluster.pairCount} links · scores {percent(cluster.worstScore)}–{percent(cluster.bestScore)}
        {canWrite && (
          <>
            {" "}
            <button type="button" disabled={busy} onClick={() => void resolve(cluster.assets[0], "NOT_DUPLICATES")}>
              Not duplicates
            </button>
          </>
        )}
      </p>
      <table className="table compare">
        <thead>
          <tr>
            <th />
            {cluster.assets.map((a) => (
              <th key={a.id}>
                <Link to={`/asset/${encodeURIComponent(a.id)}`}>
                  <Thumb url={a.scenes.edges[0]?.node.thumbnailUrl} alt="" />
                  {a.title}
                </Link>{" "}
                <StatusBadge status={a.status} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {FACTS.map(([name, value]) => {
            const values = cluster.assets.map(value);
            const differs = new Set(values).size > 1;
            return (
              <tr key={name} className={differs ? "differs" : ""}>
                <th scope="row">{name}</th>
                {values.map((v, i) => (
                  <td key={i}>{v}</td>
                ))}
              </tr>
            );
          })}
          {canWrite && (
            <tr>
              <th scope="row">resolve</th>
              {cluster.assets.map((a) => (
                <td key={a.id}>
                  <button type="button" disabled={busy} onClick={() => void resolve(a, "MARK_DUPLICATES")} title="Hide the others as its copies">
                    Keep this one
                  </button>
                </td>
              ))}
            </tr>
          )}
        </tbody>
      </table>
      <ErrorBox error={error} />
    </li>
  );
}

export function DuplicatesPage() {
  const query = useQuery(ExplorerDuplicatesDocument, { first: 20 });
  const clusters = query.data?.duplicates.edges ?? [];
  return (
    <main className="page duplicates">
      <h1>Duplicates</h1>
      <p className="hint">
        Near-duplicate uploads (re-encoded, resized or trimmed copies), largest groups first. Rows that differ are marked.
        “Keep this one” hides the others as its copies (from lists and search); “Not duplicates” stops suggesting the group.
      </p>
      <ErrorBox error={query.error} />
      {query.loading && !query.data ? (
        <Loading what="Finding duplicates" />
      ) : clusters.length === 0 ? (
        <Empty>No duplicates found.</Empty>
      ) : (
        <ul className="clusters">
          {clusters.map(({ node, cursor }) => (
            <ClusterView key={cursor} cluster={node} onResolved={query.reload} />
          ))}
        </ul>
      )}
    </main>
  );
}
