/**
 * Isolation, derived from the schema: for every root field of the supergraph's API (so a new
 * field is covered without touching this file), a principal of another agent, and a `reader`
 * for writes, must get FORBIDDEN and change nothing. Entity references are checked the same way
 * on every subgraph, and direct calls without the gateway's signature are refused. It runs on
 * both stores with the gateway calling the subgraphs in its process (the default `npm start`),
 * and once more with the gateway calling them over HTTP (separate processes): both transports
 * must apply the same principal checks.
 */
import { printSchema as printFederationSchema, Supergraph } from "@apollo/federation-internals";
import {
  buildSchema,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  parse,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "../../core/auth/internal.js";
import type { Principal } from "../../core/auth/principal.js";
import { loadSubgraphSdl } from "../../core/service/subgraph.js";
import { readSupergraph } from "../../gateway/supergraph.js";
import { errorCodes, postGraphQL } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import {
  ADMIN,
  agentPrincipal,
  readerPrincipal,
  startTestStack,
  TEST_INTERNAL_SECRET,
  type TestStack,
} from "../support/stack.js";
import { collect, wsClient } from "../support/subscriptions.js";

const VICTIM = "iso-victim";
const ATTACKER: Principal = agentPrincipal("iso-attacker");
const VICTIM_READER: Principal = readerPrincipal(VICTIM);

interface Fixtures {
  agentId: string;
  memoryId: string;
}

/** A value for an argument: agent ids point at the victim, other ids at the victim's memory. */
function argumentValue(
  field: GraphQLField<unknown, unknown>,
  arg: { name: string; type: GraphQLInputType },
  fixtures: Fixtures,
): unknown {
  const named = getNamedType(arg.type);
  const list = isListType(isNonNullType(arg.type) ? arg.type.ofType : arg.type);
  const wrap = (value: unknown) => (list ? [value] : value);
  if (named.name === "ID") {
    const refersToAgent =
      /agent/i.test(arg.name) ||
      (arg.name === "id" && getNamedType(field.type).name === "Agent") ||
      /agent/i.test(field.name);
    return wrap(refersToAgent ? fixtures.agentId : fixtures.memoryId);
  }
  return inputValue(arg.type, fixtures);
}

function inputValue(type: GraphQLInputType, fixtures: Fixtures): unknown {
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return [inputValue(inner.ofType, fixtures)];
  const named = getNamedType(inner);
  if (isEnumType(named)) return named.getValues()[0]!.value;
  if (isInputObjectType(named)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(named.getFields())) {
      if (isNonNullType(field.type) && field.defaultValue === undefined)
        value[field.name] = inputValue(field.type, fixtures);
    }
    return value;
  }
  switch (named.name) {
    case "Int":
      return 1;
    case "Float":
      return 0.5;
    case "Boolean":
      return true;
    case "ID":
      return fixtures.agentId;
    case "JSON":
      return {};
    case "DateTime":
      return new Date().toISOString();
    default:
      return "isolation probe";
  }
}

function operationFor(
  kind: "query" | "mutation" | "subscription",
  field: GraphQLField<unknown, unknown>,
  fixtures: Fixtures,
) {
  const args = field.args.filter(
    (a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined,
  );
  const variables: Record<string, unknown> = {};
  for (const arg of args) variables[arg.name] = argumentValue(field, arg, fixtures);
  const definitions = args.map((a) => `$${a.name}: ${String(a.type)}`).join(", ");
  const call = args.map((a) => `${a.name}: $${a.name}`).join(", ");
  const selection = isLeafType(getNamedType(field.type)) ? "" : " { __typename }";
  const query = `${kind} Probe${definitions ? `(${definitions})` : ""} { ${field.name}${call ? `(${call})` : ""}${selection} }`;
  return { query, variables, touchesAgent: args.length > 0 };
}

/** The client-facing schema, printed by Apollo's (CommonJS) graphql and rebuilt with ours. */
function apiSchema(): GraphQLSchema {
  return buildSchema(printFederationSchema(Supergraph.build(readSupergraph()).apiSchema()));
}

function rootFields(schema: GraphQLSchema) {
  const roots: ["query" | "mutation" | "subscription", GraphQLObjectType | null | undefined][] = [
    ["query", schema.getQueryType()],
    ["mutation", schema.getMutationType()],
    ["subscription", schema.getSubscriptionType()],
  ];
  return roots.flatMap(([kind, type]) =>
    Object.values(type?.getFields() ?? {}).map((field) => ({ kind, field })),
  );
}

const CASES = [
  ...STORES.map((store) => ({ store, gatewayOverHttp: false, transport: "subgraphs in process" })),
  { store: "sqlite" as const, gatewayOverHttp: true, transport: "subgraphs over HTTP" },
];

describe.each(CASES)(
  "isolation between principals, for every operation in the supergraph ($store, $transport)",
  ({ store, gatewayOverHttp }) => {
    let mnemo: TestStack;
    let fixtures: Fixtures;
    let victimBefore: string;

    const victimSnapshot = async () => {
      const response = await mnemo.query(
        `query V($id: ID!) { agent(id: $id) { state { version data } history(first: 100) { totalCount edges { node { version hash } } }
         memories(first: 100) { totalCount edges { node { id content } } } } }`,
        { id: VICTIM },
      );
      expect(response.errors).toBeUndefined();
      return JSON.stringify(response.data);
    };

    beforeAll(async () => {
      mnemo = await startTestStack({ store, gatewayOverHttp });
      await mnemo.query(
        `mutation { putState(agentId: "${VICTIM}", data: {secret: "victim-state"}) { version } }`,
      );
      const remembered = await mnemo.query<{ remember: { memory: { id: string } } }>(
        `mutation { remember(agentId: "${VICTIM}", input: { content: "victim-memory" }) { memory { id } } }`,
      );
      fixtures = { agentId: VICTIM, memoryId: remembered.data!.remember.memory.id };
      victimBefore = await victimSnapshot();
    });
    afterAll(async () => {
      await mnemo?.close();
    });

    const fields = rootFields(apiSchema());

    it("covers every root field", () => {
      expect(fields.length).toBeGreaterThan(10);
    });

    for (const { kind, field } of fields) {
      if (kind === "subscription") {
        it(`subscription ${field.name}: another agent's principal is refused`, async () => {
          const { query, variables, touchesAgent } = operationFor(kind, field, fixtures);
          const client = wsClient(mnemo.url("gateway"), {
            authorization: `Bearer ${await mnemo.token(ATTACKER)}`,
          });
          try {
            const sub = collect(client, query, variables);
            if (touchesAgent) {
              await expect(sub.waitFor(1, 5000)).rejects.toThrow(/FORBIDDEN|may not|needs role/);
            } else {
              await expect(sub.waitFor(1, 5000)).rejects.toThrow(/FORBIDDEN|needs role "admin"/);
            }
          } finally {
            await client.dispose();
          }
        });
        continue;
      }
      const principals: [string, Principal][] =
        kind === "mutation"
          ? [
              ["another agent", ATTACKER],
              ["a reader of the agent", VICTIM_READER],
            ]
          : [["another agent", ATTACKER]];
      for (const [who, principal] of principals) {
        it(`${kind} ${field.name}: ${who} gets FORBIDDEN (or sees nothing of the agent) and changes nothing`, async () => {
          const { query, variables, touchesAgent } = operationFor(kind, field, fixtures);
          const response = await mnemo.query(query, variables, principal);
          if (touchesAgent || kind === "mutation") {
            expect(errorCodes(response), `${query} ${JSON.stringify(variables)}`).toContain("FORBIDDEN");
          } else if (!errorCodes(response).includes("FORBIDDEN")) {
            // A list without an agent argument: allowed, but it must not show the victim.
            expect(response.errors, query).toBeUndefined();
            expect(JSON.stringify(response.data)).not.toContain(VICTIM);
          }
          expect(await victimSnapshot()).toBe(victimBefore);
        });
      }
    }

    it("every subgraph refuses entity references to another agent", async () => {
      const sign = createPrincipalSigner(TEST_INTERNAL_SECRET);
      const attackerHeader = await sign(ATTACKER);
      for (const name of ["state", "memory", "cache-admin"] as const) {
        const keyed = parse(loadSubgraphSdl(name).loc!.source.body).definitions.flatMap((d) =>
          d.kind === "ObjectTypeDefinition" && d.directives?.some((dir) => dir.name.value === "key")
            ? [d.name.value]
            : [],
        );
        expect(keyed.length, name).toBeGreaterThan(0);
        for (const typename of keyed) {
          const id = typename === "Agent" ? VICTIM : fixtures.memoryId;
          const response = await postGraphQL(
            mnemo.url(name),
            `query E($r: [_Any!]!) { _entities(representations: $r) { __typename } }`,
            { r: [{ __typename: typename, id }] },
            { [PRINCIPAL_HEADER]: attackerHeader },
          );
          expect(errorCodes(response), `${name} ${typename}`).toContain("FORBIDDEN");
        }
      }
    });

    it("every subgraph refuses calls without the gateway's signature", async () => {
      for (const name of ["state", "memory", "cache-admin"] as const) {
        const response = await postGraphQL(mnemo.url(name), `{ __typename }`);
        expect(response.status, name).toBe(401);
        expect(errorCodes(response), name).toEqual(["UNAUTHENTICATED"]);
      }
    });

    it(`isolation probes are a real attack surface: the same calls as the victim's own principal work`, async () => {
      const own = await mnemo.query(
        `{ agent(id: "${VICTIM}") { state { data } } }`,
        {},
        agentPrincipal(VICTIM),
      );
      expect(own.errors).toBeUndefined();
      expect(JSON.stringify(own.data)).toContain("victim-state");
      expect((await mnemo.query(`{ agent(id: "${VICTIM}") { id } }`, {}, ADMIN)).errors).toBeUndefined();
    });
  },
);
