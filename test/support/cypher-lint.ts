/**
 * Cypher linting with Neo4j's own language support. No Neo4j server runs on the development
 * machines, so every statement the Neo4j adapters send is checked here: syntax, semantics,
 * parameters (only the declared ones exist) and procedures/functions (only those declared
 * below exist, with their Neo4j 5 signatures), so a typo fails `npm test`.
 */
import { type DbSchema, lintCypherQuery } from "@neo4j-cypher/language-support";

type Neo4jFunction = NonNullable<DbSchema["functions"]>[string] extends Record<string, infer F> | undefined
  ? F
  : never;
type Neo4jProcedure = NonNullable<DbSchema["procedures"]>[string] extends Record<string, infer P> | undefined
  ? P
  : never;

interface Arg {
  name: string;
  type: string;
  /** Present for optional arguments. */
  default?: string;
}

function fn(name: string, args: Arg[], returns: string, aggregating = false): Neo4jFunction {
  return {
    name,
    category: aggregating ? "Aggregating" : "Scalar",
    description: name,
    isBuiltIn: true,
    argumentDescription: args.map((a) => ({ ...a, description: a.name, isDeprecated: false })),
    returnDescription: returns,
    signature: `${name}(${args.map((a) => `${a.name} :: ${a.type}`).join(", ")}) :: ${returns}`,
    aggregating,
    isDeprecated: false,
  };
}

function proc(
  name: string,
  args: Arg[],
  yields: Arg[],
  mode: "READ" | "WRITE" | "SCHEMA" = "READ",
): Neo4jProcedure {
  return {
    name,
    description: name,
    mode,
    worksOnSystem: false,
    argumentDescription: args.map((a) => ({ ...a, description: a.name, isDeprecated: false })),
    returnDescription: yields.map((a) => ({ ...a, description: a.name, isDeprecated: false })),
    signature: `${name}(${args.map((a) => `${a.name} :: ${a.type}`).join(", ")}) :: (${yields
      .map((a) => `${a.name} :: ${a.type}`)
      .join(", ")})`,
    admin: false,
    option: { deprecated: false },
  };
}

const ANY = "ANY";
/** The built-in functions Mnemo's Cypher uses (Neo4j 5 signatures). */
const FUNCTIONS: Neo4jFunction[] = [
  fn("coalesce", [{ name: "input", type: ANY }], ANY),
  fn("count", [{ name: "input", type: ANY }], "INTEGER", true),
  fn("collect", [{ name: "input", type: ANY }], "LIST<ANY>", true),
  fn("sum", [{ name: "input", type: ANY }], ANY, true),
  fn("max", [{ name: "input", type: ANY }], ANY, true),
  fn("min", [{ name: "input", type: ANY }], ANY, true),
  fn("avg", [{ name: "input", type: ANY }], ANY, true),
  fn("datetime", [{ name: "input", type: ANY, default: "DEFAULT_TEMPORAL_ARGUMENT" }], "ZONED DATETIME"),
  fn("toString", [{ name: "input", type: ANY }], "STRING"),
  fn("toInteger", [{ name: "input", type: ANY }], "INTEGER"),
  fn("toFloat", [{ name: "input", type: ANY }], "FLOAT"),
  fn("size", [{ name: "input", type: ANY }], "INTEGER"),
  fn(
    "range",
    [
      { name: "start", type: "INTEGER" },
      { name: "end", type: "INTEGER" },
    ],
    "LIST<INTEGER>",
  ),
  fn("keys", [{ name: "input", type: ANY }], "LIST<STRING>"),
  fn("id", [{ name: "input", type: ANY }], "INTEGER"),
  fn("elementId", [{ name: "input", type: ANY }], "STRING"),
  fn("type", [{ name: "input", type: "RELATIONSHIP" }], "STRING"),
  fn("exp", [{ name: "input", type: "FLOAT" }], "FLOAT"),
  fn("log", [{ name: "input", type: "FLOAT" }], "FLOAT"),
  fn("toLower", [{ name: "input", type: "STRING" }], "STRING"),
  fn("head", [{ name: "list", type: "LIST<ANY>" }], ANY),
  fn("timestamp", [], "INTEGER"),
  fn(
    "vector.similarity.cosine",
    [
      { name: "a", type: "LIST<FLOAT>" },
      { name: "b", type: "LIST<FLOAT>" },
    ],
    "FLOAT",
  ),
];

const PROCEDURES: Neo4jProcedure[] = [
  proc("db.awaitIndexes", [{ name: "timeOutSeconds", type: "INTEGER" }], [], "READ"),
  proc(
    "db.index.vector.queryNodes",
    [
      { name: "indexName", type: "STRING" },
      { name: "numberOfNearestNeighbours", type: "INTEGER" },
      { name: "query", type: "ANY" },
    ],
    [
      { name: "node", type: "NODE" },
      { name: "score", type: "FLOAT" },
    ],
  ),
  proc(
    "db.index.fulltext.queryNodes",
    [
      { name: "indexName", type: "STRING" },
      { name: "queryString", type: "STRING" },
      { name: "options", type: "MAP" },
    ],
    [
      { name: "node", type: "NODE" },
      { name: "score", type: "FLOAT" },
    ],
  ),
];

function registry<T extends { name: string }>(items: T[]) {
  const byName = Object.fromEntries(items.map((item) => [item.name, item]));
  return { "CYPHER 5": byName, "CYPHER 25": byName };
}

export interface CypherDiagnostic {
  statement: string;
  message: string;
}

/** Lints one statement; returns every diagnostic (errors and warnings). */
export function lintCypher(statement: string, parameters: Record<string, unknown>): CypherDiagnostic[] {
  const schema: DbSchema = {
    parameters,
    functions: registry(FUNCTIONS),
    procedures: registry(PROCEDURES),
  };
  const diagnostics = lintCypherQuery(statement, schema);
  return diagnostics.map((d) => ({
    statement: statement.split("\n")[0] ?? statement,
    message: typeof d.message === "string" ? d.message : d.message.value,
  }));
}
