/**
 * GraphiQL at /graphiql: an API explorer that works offline. Apollo Sandbox (GET /graphql in a
 * browser) is loaded from Apollo's CDN; this page and everything it runs come from this gateway:
 * the UMD builds of the `graphiql`, `react` and `react-dom` npm packages, read from
 * node_modules, and browser.js, which starts it. The Content-Security-Policy allows no other
 * origin, so the browser itself guarantees nothing is fetched from elsewhere.
 *
 * Served when introspection is on (INTROSPECTION), as Sandbox is: the explorer needs the schema.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRoutes } from "../../core/service/http-service.js";

export const GRAPHIQL_PATH = "/graphiql";

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

/** The files the page loads, by the name it loads them under (nothing else is served). */
function assetFiles(): Record<string, { file: string; type: string }> {
  const graphiql = packageDir("graphiql");
  return {
    "react.production.min.js": {
      file: path.join(packageDir("react"), "umd/react.production.min.js"),
      type: "text/javascript",
    },
    "react-dom.production.min.js": {
      file: path.join(packageDir("react-dom"), "umd/react-dom.production.min.js"),
      type: "text/javascript",
    },
    "graphiql.min.js": { file: path.join(graphiql, "graphiql.min.js"), type: "text/javascript" },
    "graphiql.min.css": { file: path.join(graphiql, "graphiql.min.css"), type: "text/css" },
    "start.js": { file: fileURLToPath(new URL("browser.js", import.meta.url)), type: "text/javascript" },
  };
}

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Mnemo · GraphiQL</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${GRAPHIQL_PATH}/assets/graphiql.min.css" />
    <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="${GRAPHIQL_PATH}/assets/react.production.min.js"></script>
    <script src="${GRAPHIQL_PATH}/assets/react-dom.production.min.js"></script>
    <script src="${GRAPHIQL_PATH}/assets/graphiql.min.js"></script>
    <script src="${GRAPHIQL_PATH}/assets/start.js"></script>
  </body>
</html>
`;

/**
 * Same origin only. GraphiQL and React set inline styles (and the page has one <style>), so
 * styles may be inline; scripts may not. WebSocket to this host carries subscriptions.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
].join("; ");

export function createGraphiqlRoutes(): HttpRoutes {
  const assets = assetFiles();
  // Read once at start: a missing package fails the gateway's start, not a browser later.
  const contents = Object.fromEntries(
    Object.entries(assets).map(([name, asset]) => [name, readFileSync(asset.file)]),
  );
  return {
    mount(app) {
      app.get(GRAPHIQL_PATH, (_req, res) => {
        res.setHeader("content-security-policy", CONTENT_SECURITY_POLICY);
        res.setHeader("cache-control", "no-cache");
        res.type("html").send(PAGE);
      });
      app.get(`${GRAPHIQL_PATH}/assets/:name`, (req, res) => {
        const name = req.params.name;
        const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
        if (!asset) {
          res.status(404).type("text").send("Not found");
          return;
        }
        // The files change only with the installed packages, i.e. with a new deployment.
        res.setHeader("cache-control", "public, max-age=3600");
        res.type(asset.type).send(contents[name]);
      });
    },
  };
}
