// What the session's key may do, probed once per key (see src/operations/session.graphql).
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { ExplorerProbeAdminDocument, ExplorerProbeWriteDocument } from "../gql/graphql";
import { ApiError, request, toApiError } from "./api";

export interface Session {
  /** False until the probe answered: pages render meanwhile, without write controls. */
  known: boolean;
  canWrite: boolean;
  isAdmin: boolean;
}

const UNKNOWN: Session = { known: false, canWrite: false, isAdmin: false };
const SessionContext = createContext<Session>(UNKNOWN);

export function useSession(): Session {
  return useContext(SessionContext);
}

export function SessionProvider({ apiKey, children }: { apiKey: string; children: ReactNode }) {
  const [session, setSession] = useState<Session>(UNKNOWN);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let live = true;
    setSession(UNKNOWN);
    setError(null);
    Promise.all([
      request(ExplorerProbeWriteDocument, {}).then((data) => data.updateAsset.__typename !== "Forbidden"),
      request(ExplorerProbeAdminDocument, {}).then(
        () => true,
        (err: unknown) => {
          if (err instanceof ApiError && err.code === "FORBIDDEN") return false;
          throw err;
        },
      ),
    ]).then(
      ([canWrite, isAdmin]) => live && setSession({ known: true, canWrite, isAdmin }),
      (err: unknown) => live && setError(toApiError(err)),
    );
    return () => {
      live = false;
    };
  }, [apiKey]);
  if (error) {
    return (
      <main className="page">
        <div className="error" role="alert">
          {error.message} <code>{error.code}</code>
        </div>
      </main>
    );
  }
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}
