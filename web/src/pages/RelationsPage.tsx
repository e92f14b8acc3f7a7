import cytoscape, { type Core } from "cytoscape";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { Empty, ErrorBox, Loading } from "../components/ui";
import { ExplorerLibraryDocument, ExplorerRelationGraphDocument } from "../gql/graphql";
import { ApiError, request, toApiError } from "../lib/api";
import { reasonName, reasonText } from "../lib/format";
import { useQuery } from "../lib/hooks";

interface GraphNode {
  id: string;
  title: string;
  kind: string;
  expanded: boolean;
}

interface GraphEdge {
  id: string;
  source: string;
  target: string;
  /** The strongest reason: it colours the edge. */
  kind: string;
  score: number;
  why: string;
}

const EDGE_COLOURS: Record<string, string> = {
  SAME_PERSON: "#9333ea",
  NEAR_DUPLICATE: "#c2410c",
  SIMILAR_SCENE: "#2563eb",
  SHARED_TEXT: "#16a34a",
  SHARED_LABEL: "#ca8a04",
};
const GRAPH_LIMIT = 30;

function Picker() {
  const recent = useQuery(ExplorerLibraryDocument, { first: 30, filter: { status: ["READY"] } });
  if (recent.loading) return <Loading what="Loading assets" />;
  const assets = recent.data?.assets.edges ?? [];
  return (
    <>
      <ErrorBox error={recent.error} />
      {assets.length === 0 ? (
        <Empty>No analysed asset yet.</Empty>
      ) : (
        <>
          <p className="hint">Pick an asset to start from:</p>
          <ul>
            {assets.map(({ node }) => (
              <li key={node.id}>
                <Link to={`/relations/${encodeURIComponent(node.id)}`}>{node.title}</Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

export default function RelationsPage() {
  const { id } = useParams();
  const navigate = useNavigate();
  const container = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const [nodes, setNodes] = useState<Map<string, GraphNode>>(new Map());
  const [edges, setEdges] = useState<Map<string, GraphEdge>>(new Map());
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);

  const expand = useCallback(async (assetId: string) => {
    setLoading(true);
    try {
      const data = await request(ExplorerRelationGraphDocument, { assetId, limit: GRAPH_LIMIT });
      const graph = data.relationGraph;
      setNodes((old) => {
        const next = new Map(old);
        for (const node of graph.nodes) {
          const known = next.get(node.id);
          next.set(node.id, { ...node, expanded: node.id === assetId || (known?.expanded ?? false) });
        }
        return next;
      });
      setEdges((old) => {
        const next = new Map(old);
        for (const edge of graph.edges) {
          const [a, b] = [edge.source, edge.target].sort();
          const strongest = [...edge.reasons].sort((x, y) => y.score - x.score)[0];
          const why = edge.reasons.map(reasonText).join(", ");
          const key = `${a}|${b}`;
          next.set(key, { id: key, source: a, target: b, kind: strongest?.reason ?? "", score: edge.score, why });
        }
        return next;
      });
      setError(null);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    setNodes(new Map());
    setEdges(new Map());
    if (id) void expand(id);
  }, [id, expand]);

  useEffect(() => {
    if (!container.current || !id) return;
    const graph = cytoscape({
      container: container.current,
      style: [
        {
          selector: "node",
          style: {
            label: "data(label)",
            "font-size": 11,
            "text-wrap": "ellipsis",
            "text-max-width": "120px",
            "background-color": "#64748b",
            width: 22,
            height: 22,
          },
        },
        { selector: "node[?expanded]", style: { "background-color": "#0f766e" } },
        { selector: "node[?root]", style: { "border-width": 3, "border-color": "#111827" } },
        { selector: "edge", style: { width: "data(width)", "line-color": "data(colour)", "curve-style": "bezier" } },
      ],
      wheelSensitivity: 0.3,
      // A graph of two nodes would otherwise fill the canvas with giant labels.
      maxZoom: 1.6,
      minZoom: 0.2,
    });
    graph.on("tap", "node", (event) => void expand(event.target.id() as string));
    graph.on("dbltap", "node", (event) => navigate(`/asset/${encodeURIComponent(event.target.id() as string)}`));
    cy.current = graph;
    return () => {
      graph.destroy();
      cy.current = null;
    };
  }, [id, expand, navigate]);

  useEffect(() => {
    const graph = cy.current;
    if (!graph) return;
    graph.batch(() => {
      for (const node of nodes.values()) {
        const existing = graph.getElementById(node.id);
        const data = { id: node.id, label: node.title, expanded: node.expanded, root: node.id === id };
        if (existing.nonempty()) existing.data(data);
        else graph.add({ group: "nodes", data });
      }
      for (const edge of edges.values()) {
        if (graph.getElementById(edge.id).empty()) {
          graph.add({
            group: "edges",
            data: { ...edge, colour: EDGE_COLOURS[edge.kind] ?? "#999", width: 1 + 4 * edge.score },
          });
        }
      }
    });
    graph.layout({ name: "cose", animate: false, padding: 40, fit: true }).run();
  }, [nodes, edges, id]);

  return (
    <main className="page relations">
      <h1>Relations</h1>
      {!id ? (
        <Picker />
      ) : (
        <>
          <p className="hint">
            Click a node to expand it, double-click to open the asset. An edge takes the colour of its strongest reason:{" "}
            {Object.entries(EDGE_COLOURS).map(([reason, colour], i) => (
              <span key={reason}>
                {i ? ", " : ""}
                <span style={{ color: colour }}>{reasonName(reason)}</span>
              </span>
            ))}
            ; thicker is closer.
          </p>
          <ErrorBox error={error} />
          {loading && <Loading what="Expanding" />}
          {!loading && nodes.size === 1 && <Empty>Nothing is related to this asset yet.</Empty>}
          <div className="relations-body">
            <div ref={container} className="graph" data-testid="graph" role="img" aria-label="Relation graph" />
            <ul className="graph-list" aria-label="Assets in the graph" data-testid="graph-nodes">
              {[...nodes.values()].map((node) => (
                <li key={node.id} data-expanded={node.expanded}>
                  <Link to={`/asset/${encodeURIComponent(node.id)}`}>{node.title}</Link>{" "}
                  {!node.expanded && (
                    <button type="button" className="link" onClick={() => void expand(node.id)}>
                      expand
                    </button>
                  )}
                  <span className="hint">
                    {" "}
                    {[...edges.values()]
                      .filter((e) => e.source === node.id || e.target === node.id)
                      .map((e) => e.why)
                      .join("; ")}
                  </span>
                </li>
              ))}
            </ul>
          </div>
        </>
      )}
    </main>
  );
}
