/**
 * The memory subgraph's `DateTime`. Output is graphql-scalars' DateTime. Input is accepted as
 * given and checked by the domain (domain/input.ts `optionalDate`), because the gateway passes
 * custom scalars through unchecked: a value the subgraph's scalar refused would come back as a
 * failed subgraph call (HTTP 400) instead of a BAD_USER_INPUT naming the field.
 */
import { GraphQLScalarType, Kind, valueFromASTUntyped } from "graphql";
import { DateTimeResolver } from "graphql-scalars";

export const DateTimeInput = new GraphQLScalarType({
  name: "DateTime",
  description: DateTimeResolver.description,
  serialize: DateTimeResolver.serialize,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) =>
    ast.kind === Kind.STRING ? ast.value : valueFromASTUntyped(ast, variables),
});
