// The GraphQL over HTTP spec's public audit suite (graphql-http's serverAudits, the reference
// implementation) against a live `mediakg serve`. Usage: node audit.mjs URL [API_KEY]
// Prints one line per audit and a JSON summary last; exits 1 on any error or warning.
import { serverAudits } from "graphql-http";

const [url, key] = process.argv.slice(2);
if (!url) {
  console.error("usage: node audit.mjs URL [API_KEY]");
  process.exit(2);
}
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (key) headers.set("authorization", `Bearer ${key}`);
  // The CSRF rule's header, as every non-browser client may send it (docs/security.md): the
  // audits' GET requests are simple requests a browser could forge without it.
  headers.set("x-mediakg-csrf", "1");
  return fetch(input, { ...init, headers });
};

const results = await Promise.all(serverAudits({ url, fetchFn }).map((audit) => audit.fn()));
const counts = { ok: 0, warn: 0, error: 0, notice: 0 };
const bad = [];
for (const result of results) {
  counts[result.status] += 1;
  console.log(`${result.status.toUpperCase()}\t${result.name}`);
  if (result.status === "warn" || result.status === "error") {
    bad.push({ status: result.status, name: result.name, reason: result.reason });
  }
}
console.log(JSON.stringify({ counts, bad }));
process.exit(bad.length ? 1 : 0);
