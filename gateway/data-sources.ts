/**
 * The gateway's connections to the subgraphs over HTTP. One data source per subgraph, shared by
 * Apollo Gateway (queries and mutations) and the subscription executor (entity fetches for each
 * event), so both send the same signed principal.
 */
import { RemoteGraphQLDataSource } from "@apollo/gateway";
import { PRINCIPAL_HEADER } from "../core/auth/internal.js";
import type { Principal } from "../core/auth/principal.js";
import type { SubgraphName } from "./supergraph.js";

/** What the data sources read from a request's context. */
export interface PrincipalContext {
  /** null only for anonymous introspection, which never reaches a subgraph. */
  principal: Principal | null;
}

/** Adds the signed principal to every request the gateway sends to a subgraph. */
export class SignedDataSource extends RemoteGraphQLDataSource<PrincipalContext> {
  constructor(
    url: string,
    private readonly sign: (principal: Principal) => Promise<string>,
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

export type SubgraphDataSources = Record<SubgraphName, SignedDataSource>;

export function createDataSources(
  urls: Record<SubgraphName, string>,
  sign: (principal: Principal) => Promise<string>,
  fetcher?: RemoteGraphQLDataSource["fetcher"],
): SubgraphDataSources {
  return Object.fromEntries(
    Object.entries(urls).map(([name, url]) => [name, new SignedDataSource(url, sign, fetcher)]),
  ) as SubgraphDataSources;
}
