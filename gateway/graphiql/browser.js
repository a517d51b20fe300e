// Starts GraphiQL in the page /graphiql serves. React, ReactDOM and GraphiQL are the UMD builds
// of their npm packages, served by the gateway next to this file: nothing comes from a CDN.
/* global React, ReactDOM, GraphiQL */

const DEFAULT_QUERY = `# Mnemo's GraphQL API, explored offline with GraphiQL.
#
# Every operation needs a token: open "Headers" below and paste
#   { "authorization": "Bearer <token>" }
# (npm start prints one; npm run -s token -- --role admin mints another).
# Subscriptions run over WebSocket with the same header.

query Agents {
  agents(first: 10) {
    totalCount
    edges { node { id state { version data } } }
  }
}
`;

const graphqlUrl = new URL("/graphql", window.location.href).toString();
const fetcher = GraphiQL.createFetcher({
  url: graphqlUrl,
  subscriptionUrl: graphqlUrl.replace(/^http/, "ws"),
});

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: DEFAULT_QUERY,
    shouldPersistHeaders: true,
  }),
);
