// The graphql-ws reference client (graphql-transport-ws) following one job's progress on a
// live `mediakg serve`. Usage: node ws-progress.mjs WS_URL JOB_ID DOCUMENT_FILE [API_KEY]
// Prints each event as one JSON line, then {"complete": true} when the server completes.
import { readFileSync } from "node:fs";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, jobId, documentFile, key] = process.argv.slice(2);
if (!url || !jobId || !documentFile) {
  console.error("usage: node ws-progress.mjs WS_URL JOB_ID DOCUMENT_FILE [API_KEY]");
  process.exit(2);
}
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: true,
  retryAttempts: 0,
  connectionParams: key ? { authorization: `Bearer ${key}` } : {},
});
const timer = setTimeout(() => {
  console.error("no completion within 300 s");
  process.exit(3);
}, 300_000);
try {
  const events = client.iterate({ query: readFileSync(documentFile, "utf8"), variables: { jobId } });
  for await (const result of events) {
    if (result.errors) {
      console.log(JSON.stringify({ errors: result.errors }));
      process.exit(1);
    }
    console.log(JSON.stringify(result.data.jobProgress));
  }
  console.log(JSON.stringify({ complete: true }));
} finally {
  clearTimeout(timer);
  await client.dispose();
}
