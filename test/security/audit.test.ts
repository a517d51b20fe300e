import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../support/graphql-client.js";
import { STORES } from "../support/neo4j.js";
import { ADMIN, agentPrincipal, startTestStack, type TestStack } from "../support/stack.js";

interface AuditNode {
  actor: string;
  role: string;
  action: string;
  target: string | null;
  details: Record<string, unknown> | null;
  at: string;
}

describe.each(STORES)("audit log (%s)", (store) => {
  let mnemo: TestStack;
  beforeAll(async () => {
    mnemo = await startTestStack({ store });
  });
  afterAll(async () => {
    await mnemo?.close();
  });

  it("records who did what and when for every state write, backed by the hash chain", async () => {
    const writer = agentPrincipal("audited");
    await mnemo.query(
      `mutation { putState(agentId: "audited", data: {secret: "do-not-log"}) { version } }`,
      {},
      writer,
    );
    await mnemo.query(`mutation { patchState(agentId: "audited", patch: {n: 2}) { version } }`, {}, writer);
    await mnemo.query(`mutation { rollbackState(agentId: "audited", toVersion: 1) { version } }`);
    await mnemo.query(`mutation { pruneHistory(agentId: "audited", keepLast: 2) }`);
    const failed = await mnemo.query(
      `mutation { putState(agentId: "audited", data: {x: 1}, expectedVersion: 1) { version } }`,
      {},
      writer,
    );
    expect(errorCodes(failed)).toEqual(["VERSION_CONFLICT"]);

    const log = await mnemo.query<{
      auditLog: { totalCount: number; edges: { node: AuditNode }[] };
      agent: { history: { edges: { node: { version: number; hash: string } }[] } };
    }>(`{ auditLog(agentId: "audited", first: 10) { totalCount edges { node { actor role action target details at } } }
          agent(id: "audited") { history { edges { node { version hash } } } } }`);
    expect(log.errors).toBeUndefined();
    const entries = log.data!.auditLog.edges.map((e) => e.node);
    expect(entries.map((e) => [e.action, e.actor, e.role, e.target])).toEqual([
      ["state.prune", "test-admin", "admin", null],
      ["state.rollback", "test-admin", "admin", "3"],
      ["state.patch", "agent:audited", "agent", "2"],
      ["state.put", "agent:audited", "agent", "1"],
    ]);
    const hashes = new Map(log.data!.agent.history.edges.map((e) => [e.node.version, e.node.hash]));
    expect(entries[1]!.details?.hash).toBe(hashes.get(3));
    expect(JSON.stringify(entries)).not.toContain("do-not-log");
    expect(Date.parse(entries[0]!.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("is for admins only", async () => {
    const response = await mnemo.query(
      `{ auditLog(agentId: "audited") { totalCount } }`,
      {},
      agentPrincipal("audited"),
    );
    expect(errorCodes(response)).toEqual(["FORBIDDEN"]);
    const admin = await mnemo.query(`{ auditLog(agentId: "audited", first: 1) { totalCount } }`, {}, ADMIN);
    expect(admin.errors).toBeUndefined();
  });
});
