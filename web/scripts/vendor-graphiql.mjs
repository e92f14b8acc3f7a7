// Copies GraphiQL's browser files (and the React it runs on) from node_modules into
// dist/graphiql/<package>/<path>, so the GraphiQL page of /graphql loads nothing from a CDN.
// app/api/ide.py rewrites the page's unpkg.com URLs to these paths.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = [
  ["react", "umd/react.production.min.js"],
  ["react-dom", "umd/react-dom.production.min.js"],
  ["js-cookie", "dist/js.cookie.min.js"],
  ["graphiql", "graphiql.min.css"],
  ["graphiql", "graphiql.min.js"],
  ["@graphiql/plugin-explorer", "dist/style.css"],
  ["@graphiql/plugin-explorer", "dist/index.umd.js"],
];
for (const [pkg, path] of files) {
  const target = join(web, "dist", "graphiql", pkg, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(web, "node_modules", pkg, path), target);
}
console.log(`vendored ${files.length} GraphiQL files into dist/graphiql/`);
