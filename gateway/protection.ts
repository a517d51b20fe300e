/**
 * Request limits at the gateway, before any subgraph is called: query depth, aliases, cost and
 * token count (graphql-armor validation rules and graphql-js's parser limit), and field suggestions hidden in production so
 * error messages do not leak the schema when introspection is off.
 */
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import type { Config } from "../core/config.js";

export function createArmor(config: Config) {
  const { protection } = config;
  const armor = new ApolloArmor({
    maxDepth: { enabled: true, n: protection.queryMaxDepth, ignoreIntrospection: true },
    maxAliases: { enabled: true, n: protection.queryMaxAliases },
    costLimit: { enabled: true, maxCost: protection.queryMaxCost, ignoreIntrospection: true },
    maxTokens: { enabled: false },
    maxDirectives: { enabled: true, n: 50 },
    blockFieldSuggestion: { enabled: !config.introspection },
  });
  const { plugins, validationRules } = armor.protect();
  // graphql-armor's typings point at Apollo's CommonJS build; the plugin objects are the same.
  return {
    plugins: plugins as unknown as ApolloServerPlugin<BaseContext>[],
    validationRules,
    // graphql-js counts tokens while parsing and aborts early with a 400; graphql-armor's own
    // token limit throws from a plugin hook, which Apollo turns into a 500.
    parseOptions: { maxTokens: protection.queryMaxTokens },
  };
}
