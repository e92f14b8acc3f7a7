import { Empty, ErrorBox, Loading } from "../components/ui";
import { ExplorerSystemStatusDocument } from "../gql/graphql";
import { useQuery } from "../lib/hooks";

const REFRESH_MS = 5000;

export function OperationsPage() {
  const status = useQuery(ExplorerSystemStatusDocument, {}, { pollMs: REFRESH_MS });
  const s = status.data?.systemStatus;
  return (
    <main className="page operations">
      <h1>Operations</h1>
      <p className="hint">
        Refreshes every {REFRESH_MS / 1000} s{s && <> · checked {new Date(s.checkedAt).toLocaleTimeString()}</>}{" "}
        <button type="button" onClick={status.reload}>
          Refresh now
        </button>
      </p>
      <ErrorBox error={status.error} />
      {!s ? (
        status.loading && <Loading what="Checking the system" />
      ) : (
        <div className="ops-grid">
          <section>
            <h2>Backends</h2>
            <ul className="backends">
              {s.backends.map((b) => (
                <li key={b.name} className={b.healthy == null ? "unknown" : b.healthy ? "healthy" : "unhealthy"}>
                  <strong>{b.name}</strong> {b.healthy == null ? "unknown" : b.healthy ? "healthy" : "unhealthy"} <span className="hint">{b.detail}</span>
                </li>
              ))}
            </ul>
          </section>
          <section>
            <h2>Queues</h2>
            <table className="table">
              <thead>
                <tr>
                  <th>Queue</th>
                  <th>Waiting</th>
                  <th>Oldest (s)</th>
                  <th>Dead letters</th>
                </tr>
              </thead>
              <tbody>
                {s.queues.map((q) => (
                  <tr key={q.name} className={q.deadLetters ? "warn" : ""}>
                    <td>{q.name}</td>
                    <td>{q.depth}</td>
                    <td>{q.oldestMessageAgeSeconds.toFixed(1)}</td>
                    <td>{q.deadLetters}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section>
            <h2>Workers ({s.workersAlive} alive)</h2>
            {s.workers.length === 0 ? (
              <Empty>No worker sent a heartbeat in the last 30 s.</Empty>
            ) : (
              <ul>
                {s.workers.map((w) => (
                  <li key={w.id}>
                    <code>{w.id}</code> seen {w.lastSeenSecondsAgo.toFixed(0)} s ago · {w.modelsLoaded.length} models
                  </li>
                ))}
              </ul>
            )}
            <h2>Models loaded</h2>
            {s.modelsLoaded.length === 0 ? (
              <Empty>None reported.</Empty>
            ) : (
              <ul>
                {s.modelsLoaded.map((m) => (
                  <li key={m.name + m.version}>
                    {m.name} <code>{m.version}</code> on {m.workers} worker(s)
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section>
            <h2>Circuit breakers</h2>
            {s.breakers.length === 0 ? (
              <Empty>No breaker (no remote model backend configured).</Empty>
            ) : (
              <ul>
                {s.breakers.map((b) => (
                  <li key={b.worker + b.backend} className={b.state === "CLOSED" ? "healthy" : "unhealthy"}>
                    {b.backend} on <code>{b.worker}</code>: {b.state.toLowerCase().replace("_", "-")}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      )}
    </main>
  );
}
