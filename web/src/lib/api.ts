// The explorer's GraphQL client: typed documents (src/gql, generated) over fetch, uploads as
// GraphQL multipart requests, and subscriptions over graphql-transport-ws. Every request
// carries the session's API key; the app is same-origin with /graphql.
import { createClient, type Client } from "graphql-ws";
import type { TypedDocumentString } from "../gql/graphql";
import { apiKey, forgetKey } from "./auth";

/** A failure shown to the user with its message and code (GraphQL error or user error). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** ``err`` as an ApiError: itself if it is one, else a NETWORK error with its text. */
export function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(String(err), "NETWORK");
}

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string };
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

function headers(): Record<string, string> {
  const key = apiKey();
  // x-mediakg-csrf: multipart uploads are "simple" requests; the server wants proof that no
  // foreign page sent them (app/api/guards.py).
  return {
    "x-mediakg-csrf": "1",
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  };
}

async function decode<T>(response: Response): Promise<T> {
  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`the server answered HTTP ${response.status}`, `HTTP_${response.status}`);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    const error = new ApiError(first.message, first.extensions?.code ?? `HTTP_${response.status}`);
    if (response.status === 401) {
      forgetKey({ message: error.message, code: error.code });
    }
    throw error;
  }
  if (body.data == null) {
    throw new ApiError(`the server answered HTTP ${response.status} without data`, `HTTP_${response.status}`);
  }
  return body.data;
}

/** Run a query or mutation; throws ApiError for GraphQL errors. */
export async function request<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  signal?: AbortSignal,
): Promise<TResult> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { ...headers(), "content-type": "application/json", accept: "application/graphql-response+json" },
    body: JSON.stringify({ query: document.toString(), variables }),
    signal,
  });
  return decode<TResult>(response);
}

/** Run an operation whose variable at ``path`` (e.g. "input.source.upload") is a file. */
export async function upload<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  path: string,
  file: File,
): Promise<TResult> {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query: document.toString(), variables }));
  form.append("map", JSON.stringify({ "0": [`variables.${path}`] }));
  form.append("0", file, file.name);
  const response = await fetch("/graphql", { method: "POST", headers: headers(), body: form });
  return decode<TResult>(response);
}

let socket: Client | null = null;
let socketKey: string | null = null;

function wsClient(): Client {
  const key = apiKey();
  if (socket === null || socketKey !== key) {
    socket?.dispose();
    socketKey = key;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    socket = createClient({
      url,
      lazy: true,
      retryAttempts: 5,
      connectionParams: () => ({ Authorization: `Bearer ${apiKey() ?? ""}` }),
    });
  }
  return socket;
}

/** Subscribe; returns the function that stops it. */
export function subscribe<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  onData: (data: TResult) => void,
  onError?: (error: ApiError) => void,
): () => void {
  return wsClient().subscribe<TResult>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (value) => {
        if (value.errors?.length) {
          const first = value.errors[0] as GraphQLErrorBody;
          onError?.(new ApiError(first.message, first.extensions?.code ?? "SUBSCRIPTION_ERROR"));
        } else if (value.data) {
          onData(value.data);
        }
      },
      error: (error: unknown) => {
        const message = error instanceof Error ? error.message : "the live connection closed";
        onError?.(new ApiError(message, "SUBSCRIPTION_CLOSED"));
      },
      complete: () => undefined,
    },
  );
}

/** The user error of a mutation result union, if it is one (its __typename is not *Success). */
export function userError(result: { __typename?: string; message?: string; code?: string }): ApiError | null {
  if (result.__typename?.endsWith("Success")) {
    return null;
  }
  return new ApiError(result.message ?? "the operation was refused", result.code ?? "UNKNOWN");
}
