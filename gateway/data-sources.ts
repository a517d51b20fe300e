/**
 * The gateway's connections to the subgraphs: over HTTP, or in process for a subgraph running in
 * the same process (the default `npm start`). One data source per subgraph, shared by Apollo
 * Gateway (queries and mutations) and the subscription executor (entity fetches for each
 * event), so both send the same signed principal.
 *
 * In process, the gateway still signs the principal and the subgraph still verifies it with the
 * function its HTTP endpoint uses, then runs the request through its own Apollo Server pipeline
 * (core/service/http-service.ts, LocalEndpoint): the trust boundary and every check stay as
 * they are; only the HTTP hop and two JSON encodings go. Apollo's LocalGraphQLDataSource would
 * execute the schema with the gateway's context instead, skipping the subgraph's context, its
 * principal check and its error formatting.
 */
import {
  type GraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
  RemoteGraphQLDataSource,
} from "@apollo/gateway";
import { PRINCIPAL_HEADER } from "../core/auth/internal.js";
import type { Principal } from "../core/auth/principal.js";
import type { LocalSubgraph } from "../core/service/subgraph.js";
import type { SubgraphName } from "./supergraph.js";

/** What the data sources read from a request's context. */
export interface PrincipalContext {
  /** null only for anonymous introspection, which never reaches a subgraph. */
  principal: Principal | null;
}

type Sign = (principal: Principal) => Promise<string>;

/** Adds the signed principal to every request the gateway sends to a subgraph over HTTP. */
export class SignedDataSource extends RemoteGraphQLDataSource<PrincipalContext> {
  constructor(
    url: string,
    private readonly sign: Sign,
    fetcher?: RemoteGraphQLDataSource["fetcher"],
  ) {
    super({ url, ...(fetcher ? { fetcher } : {}) });
  }

  override async willSendRequest({
    request,
    context,
  }: Parameters<RemoteGraphQLDataSource<PrincipalContext>["willSendRequest"] & {}>[0]) {
    if (context.principal) request.http?.headers.set(PRINCIPAL_HEADER, await this.sign(context.principal));
  }
}

/** Calls a subgraph in this process with the signed principal, as its HTTP endpoint would be called. */
export class InProcessDataSource implements GraphQLDataSource<PrincipalContext> {
  constructor(
    private readonly subgraph: LocalSubgraph,
    private readonly sign: Sign,
  ) {}

  async process({ request, context }: GraphQLDataSourceProcessOptions<PrincipalContext>) {
    if (!request.query) throw new Error("Missing query");
    const principal = (context as PrincipalContext).principal;
    const header = principal ? await this.sign(principal) : undefined;
    return this.subgraph.execute(
      { query: request.query, variables: request.variables, operationName: request.operationName },
      header,
    );
  }
}

export type SubgraphDataSources = Record<SubgraphName, GraphQLDataSource<PrincipalContext>>;

export function createDataSources(
  urls: Record<SubgraphName, string>,
  sign: Sign,
  fetcher?: RemoteGraphQLDataSource["fetcher"],
  local: Partial<Record<SubgraphName, LocalSubgraph>> = {},
): SubgraphDataSources {
  const source = (name: SubgraphName) => {
    const inProcess = local[name];
    return inProcess
      ? new InProcessDataSource(inProcess, sign)
      : new SignedDataSource(urls[name], sign, fetcher);
  };
  return { state: source("state"), memory: source("memory"), "cache-admin": source("cache-admin") };
}
