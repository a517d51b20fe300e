/**
 * `npm run token -- --role agent --agents a,b --ttl 1h`: mints a client token signed with the
 * configured AUTH_JWT_SECRET (HS256 over the raw UTF-8 bytes of the string, as the gateway
 * verifies it), with AUTH_ISSUER and AUTH_AUDIENCE when they are set. The token alone goes to
 * stdout, so `TOKEN=$(npm run -s token -- …)` captures it; what it grants goes to stderr.
 */
import { parseArgs } from "node:util";
import { ROLES, type Role } from "../core/auth/principal.js";
import { issueToken } from "../core/auth/tokens.js";
import { ConfigError, loadConfig } from "../core/config.js";

const USAGE = `Usage: npm run -s token -- --role <${ROLES.join("|")}> [--agents a,b | --agents '*'] [--ttl 1h] [--sub name]

  --role    what the token may do: admin (everything), agent (read and write its agents), reader (read only)
  --agents  comma-separated agent ids it may touch, or * for all (required for agent and reader; admin: *)
  --ttl     lifetime: a number followed by s, m, h or d (default 1h); every token expires
  --sub     the principal's name, shown in audit entries and used for rate limits (default mnemo-cli)

Signs with AUTH_JWT_SECRET, which must be the secret the server uses.`;

/** The longest lifetime accepted: a token that outlives a year is a credential nobody rotates. */
const MAX_TTL_SECONDS = 366 * 24 * 3600;
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseTtl(value: string): number | string {
  const match = /^(\d+)([smhd])$/.exec(value.trim());
  if (!match) return `--ttl must be a number followed by s, m, h or d, like 30m or 1h (got "${value}")`;
  const seconds = Number(match[1]) * TTL_UNITS[match[2]!]!;
  if (seconds < 1 || seconds > MAX_TTL_SECONDS) {
    return `--ttl must be from 1s to ${MAX_TTL_SECONDS / 86_400}d (got "${value}")`;
  }
  return seconds;
}

async function main(): Promise<void> {
  let values: { role?: string; agents?: string; ttl?: string; sub?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        role: { type: "string" },
        agents: { type: "string" },
        ttl: { type: "string", default: "1h" },
        sub: { type: "string", default: "mnemo-cli" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }

  if (!values.role) fail("--role is required");
  if (!(ROLES as readonly string[]).includes(values.role)) {
    fail(`--role must be one of ${ROLES.join(", ")} (got "${values.role}")`);
  }
  const role = values.role as Role;
  const agents = (values.agents ?? (role === "admin" ? "*" : ""))
    .split(",")
    .map((id) => id.trim())
    .filter((id) => id !== "");
  if (agents.length === 0) fail(`--agents is required for role ${role} (agent ids, comma-separated, or *)`);
  const ttl = parseTtl(values.ttl ?? "1h");
  if (typeof ttl === "string") fail(ttl);
  const sub = values.sub?.trim() || fail("--sub must not be empty");

  if (!process.env.AUTH_JWT_SECRET?.trim()) {
    console.error(
      "AUTH_JWT_SECRET is not set. Tokens are signed with the server's secret: export AUTH_JWT_SECRET " +
        "with the value the server uses (when it is unset, npm start generates a new secret on every " +
        "run and prints its own admin token instead).",
    );
    process.exit(1);
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  const token = await issueToken(config.auth, { sub, role, agents }, { expiresIn: `${ttl}s` });
  const expires = new Date(Date.now() + ttl * 1000).toISOString();
  console.error(`${role} token for ${agents.join(", ")} (sub "${sub}"), expires ${expires}`);
  console.log(token);
}

await main();
