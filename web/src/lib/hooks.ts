import { useCallback, useEffect, useRef, useState } from "react";
import type { TypedDocumentString } from "../gql/graphql";
import { ApiError, request, toApiError } from "./api";

export interface QueryState<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Runs a query when its variables change (compared as JSON); aborts the previous one. */
export function useQuery<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  options: { skip?: boolean; pollMs?: number } = {},
): QueryState<TResult> {
  const [data, setData] = useState<TResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(!options.skip);
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(variables);
  const vars = useRef(variables);
  vars.current = variables;
  useEffect(() => {
    if (options.skip) return;
    const controller = new AbortController();
    setLoading(true);
    request(document, vars.current, controller.signal).then(
      (result) => {
        setData(result);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setError(toApiError(err));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [document, key, generation, options.skip]);
  useEffect(() => {
    if (!options.pollMs) return;
    const timer = setInterval(() => setGeneration((g) => g + 1), options.pollMs);
    return () => clearInterval(timer);
  }, [options.pollMs]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload };
}
