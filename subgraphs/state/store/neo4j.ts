/**
 * StateStore on Neo4j: `(:Agent {id})-[:HAS_VERSION]->(:StateVersion)` with the current version
 * number and the cache revision on the Agent node.
 *
 * A write starts by updating the Agent node, which takes its write lock: concurrent writers of
 * one agent queue behind each other, and the compare-and-set that follows runs under the lock,
 * inside the same `executeWrite` transaction function. `StateVersion.key` ("<agent>#<version>")
 * has a uniqueness constraint (community edition has no composite node keys), so the schema
 * itself refuses a duplicate version.
 */
import type { Integer, Node } from "neo4j-driver";
import { type Encryptor, plaintextStorage } from "../../../core/crypto/encryption.js";
import {
  type Driver,
  ensureSchema,
  type ManagedTransaction,
  neo4j,
  runRead,
  runWrite,
  toNumber,
} from "../../../core/store/neo4j.js";
import type { JsonValue } from "../domain/json.js";
import {
  type AppendRequest,
  type AppendResult,
  type HistoryPage,
  type RevisionedVersion,
  type StateStore,
  type StateVersionRecord,
  stateDataContext,
  VersionConflictError,
} from "../domain/store-port.js";

/** Every statement this adapter sends; each is linted by the Cypher linter in `npm test`. */
export const STATE_CYPHER = {
  agentConstraint: "CREATE CONSTRAINT agent_id IF NOT EXISTS FOR (a:Agent) REQUIRE a.id IS UNIQUE",
  versionConstraint:
    "CREATE CONSTRAINT state_version_key IF NOT EXISTS FOR (v:StateVersion) REQUIRE v.key IS UNIQUE",
  versionIndex:
    "CREATE INDEX state_version_agent IF NOT EXISTS FOR (v:StateVersion) ON (v.agentId, v.version)",
  lockHead: `MERGE (a:Agent {id: $agentId})
ON CREATE SET a.createdAt = datetime()
SET a.stateRevision = coalesce(a.stateRevision, 0) + 1
WITH a
OPTIONAL MATCH (v:StateVersion {key: a.id + '#' + toString(a.currentVersion)})
RETURN coalesce(a.currentVersion, 0) AS currentVersion, a.stateRevision AS revision, v AS current`,
  insertVersion: `MATCH (a:Agent {id: $agentId})
CREATE (a)-[:HAS_VERSION]->(:StateVersion {
  key: $key, agentId: $agentId, version: $version, data: $data, createdAt: $createdAt,
  author: $author, reason: $reason, hash: $hash, previousHash: $previousHash
})
SET a.currentVersion = $version, a.hasState = true`,
  pruneBelow: `MATCH (v:StateVersion)
WHERE v.agentId = $agentId AND v.version <= $maxVersion
DETACH DELETE v
RETURN count(*) AS removed`,
  bumpRevision: `MATCH (a:Agent {id: $agentId})
SET a.stateRevision = coalesce(a.stateRevision, 0) + 1
RETURN a.stateRevision AS revision`,
  currentMany: `UNWIND range(0, size($ids) - 1) AS position
OPTIONAL MATCH (a:Agent {id: $ids[position]})
OPTIONAL MATCH (v:StateVersion {key: a.id + '#' + toString(a.currentVersion)})
RETURN position, coalesce(a.stateRevision, 0) AS revision, v AS version`,
  versionsMany: `UNWIND $refs AS ref
OPTIONAL MATCH (a:Agent {id: ref.agentId})
OPTIONAL MATCH (v:StateVersion {key: ref.key})
RETURN ref.position AS position, coalesce(a.stateRevision, 0) AS revision, v AS version`,
  historyPage: `MATCH (v:StateVersion)
WHERE v.agentId = $agentId AND v.version < $before
RETURN v AS version
ORDER BY v.version DESC
LIMIT $limit`,
  countVersions: `MATCH (v:StateVersion)
WHERE v.agentId = $agentId
RETURN count(v) AS total`,
  scanChunk: `MATCH (v:StateVersion)
WHERE v.agentId = $agentId AND v.version > $after
RETURN v AS version
ORDER BY v.version ASC
LIMIT $limit`,
  clearHead: `MATCH (a:Agent {id: $agentId})
WITH a, a.currentVersion IS NOT NULL AS hadState
SET a.stateRevision = coalesce(a.stateRevision, 0) + 1, a.hasState = false
REMOVE a.currentVersion
RETURN hadState, a.stateRevision AS revision`,
  deleteVersions: `MATCH (v:StateVersion)
WHERE v.agentId = $agentId
DETACH DELETE v`,
  headForPrune: `MATCH (a:Agent {id: $agentId})
SET a.stateRevision = coalesce(a.stateRevision, 0) + 1
RETURN a.currentVersion AS currentVersion, a.stateRevision AS revision`,
  ping: "RETURN 1 AS ok",
} as const;

type VersionNode = Node<Integer, Record<string, unknown>>;

function toRecord(node: VersionNode | null, encryption: Encryptor): StateVersionRecord | null {
  if (!node) return null;
  const p = node.properties;
  const agentId = p.agentId as string;
  const version = toNumber(p.version);
  return {
    agentId,
    version,
    data: JSON.parse(encryption.decrypt(p.data as string, stateDataContext(agentId, version))) as JsonValue,
    createdAt: p.createdAt as string,
    author: (p.author as string | null) ?? null,
    reason: (p.reason as string | null) ?? null,
    hash: p.hash as string,
    previousHash: (p.previousHash as string | null) ?? null,
  };
}

const versionKey = (agentId: string, version: number) => `${agentId}#${version}`;

export async function createNeo4jStateStore(
  driver: Driver,
  database: string,
  encryption: Encryptor = plaintextStorage,
): Promise<StateStore> {
  await ensureSchema(driver, database, [
    STATE_CYPHER.agentConstraint,
    STATE_CYPHER.versionConstraint,
    STATE_CYPHER.versionIndex,
  ]);
  return new Neo4jStateStore(driver, database, encryption);
}

export class Neo4jStateStore implements StateStore {
  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly encryption: Encryptor = plaintextStorage,
  ) {}

  private read<T>(work: (tx: ManagedTransaction) => Promise<T>) {
    return runRead(this.driver, this.database, work);
  }

  private write<T>(work: (tx: ManagedTransaction) => Promise<T>) {
    return runWrite(this.driver, this.database, work);
  }

  async currentStates(agentIds: readonly string[]): Promise<RevisionedVersion[]> {
    if (agentIds.length === 0) return [];
    const result = await this.read((tx) => tx.run(STATE_CYPHER.currentMany, { ids: [...agentIds] }));
    const states: RevisionedVersion[] = agentIds.map(() => ({ revision: 0, value: null }));
    for (const row of result.records) {
      states[toNumber(row.get("position"))] = {
        revision: toNumber(row.get("revision")),
        value: toRecord(row.get("version") as VersionNode | null, this.encryption),
      };
    }
    return states;
  }

  async versions(refs: readonly { agentId: string; version: number }[]): Promise<RevisionedVersion[]> {
    if (refs.length === 0) return [];
    const params = refs.map((ref, position) => ({
      agentId: ref.agentId,
      key: versionKey(ref.agentId, ref.version),
      position: neo4j.int(position),
    }));
    const result = await this.read((tx) => tx.run(STATE_CYPHER.versionsMany, { refs: params }));
    const versions: RevisionedVersion[] = refs.map(() => ({ revision: 0, value: null }));
    for (const row of result.records) {
      versions[toNumber(row.get("position"))] = {
        revision: toNumber(row.get("revision")),
        value: toRecord(row.get("version") as VersionNode | null, this.encryption),
      };
    }
    return versions;
  }

  async history(agentId: string, first: number, beforeVersion?: number): Promise<HistoryPage> {
    return this.read(async (tx) => {
      const page = await tx.run(STATE_CYPHER.historyPage, {
        agentId,
        before: neo4j.int(beforeVersion ?? Number.MAX_SAFE_INTEGER),
        limit: neo4j.int(first + 1),
      });
      const count = await tx.run(STATE_CYPHER.countVersions, { agentId });
      const records = page.records.map(
        (row) => toRecord(row.get("version") as VersionNode, this.encryption)!,
      );
      return {
        records: records.slice(0, first),
        hasNextPage: records.length > first,
        totalCount: toNumber(count.records[0]?.get("total") ?? 0),
      };
    });
  }

  async *scanVersions(agentId: string, chunkSize: number): AsyncIterable<StateVersionRecord[]> {
    let after = 0;
    for (;;) {
      const result = await this.read((tx) =>
        tx.run(STATE_CYPHER.scanChunk, { agentId, after: neo4j.int(after), limit: neo4j.int(chunkSize) }),
      );
      const chunk = result.records.map(
        (row) => toRecord(row.get("version") as VersionNode, this.encryption)!,
      );
      if (chunk.length === 0) return;
      yield chunk;
      after = chunk.at(-1)!.version;
      if (chunk.length < chunkSize) return;
    }
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    const { agentId } = request;
    return this.write(async (tx) => {
      const head = (await tx.run(STATE_CYPHER.lockHead, { agentId })).records[0]!;
      const currentVersion = toNumber(head.get("currentVersion"));
      let revision = toNumber(head.get("revision"));
      if (request.expectedVersion !== undefined && request.expectedVersion !== currentVersion) {
        throw new VersionConflictError(agentId, request.expectedVersion, currentVersion);
      }
      const current = toRecord(head.get("current") as VersionNode | null, this.encryption);
      const record = request.seal(request.build(current), currentVersion + 1, current?.hash ?? null);
      await tx.run(STATE_CYPHER.insertVersion, {
        agentId,
        key: versionKey(agentId, record.version),
        version: neo4j.int(record.version),
        data: this.encryption.encrypt(JSON.stringify(record.data), stateDataContext(agentId, record.version)),
        createdAt: record.createdAt,
        author: record.author,
        reason: record.reason,
        hash: record.hash,
        previousHash: record.previousHash,
      });
      let pruned = 0;
      if (request.historyLimit > 0 && record.version > request.historyLimit) {
        const result = await tx.run(STATE_CYPHER.pruneBelow, {
          agentId,
          maxVersion: neo4j.int(record.version - request.historyLimit),
        });
        pruned = toNumber(result.records[0]?.get("removed") ?? 0);
        if (pruned > 0) {
          const bumped = await tx.run(STATE_CYPHER.bumpRevision, { agentId });
          revision = toNumber(bumped.records[0]!.get("revision"));
        }
      }
      return { record, revision, pruned };
    });
  }

  async deleteAgent(agentId: string): Promise<{ deleted: boolean; revision: number }> {
    return this.write(async (tx) => {
      const head = (await tx.run(STATE_CYPHER.clearHead, { agentId })).records[0];
      if (!head) return { deleted: false, revision: 0 };
      await tx.run(STATE_CYPHER.deleteVersions, { agentId });
      return { deleted: head.get("hadState") as boolean, revision: toNumber(head.get("revision")) };
    });
  }

  async prune(agentId: string, keepLast: number): Promise<{ removed: number; revision: number }> {
    return this.write(async (tx) => {
      // Bumping the revision takes the agent's write lock, so a concurrent append cannot interleave.
      const head = (await tx.run(STATE_CYPHER.headForPrune, { agentId })).records[0];
      const currentVersion = head ? toNumber(head.get("currentVersion") ?? 0) : 0;
      const revision = head ? toNumber(head.get("revision")) : 0;
      if (currentVersion === 0) return { removed: 0, revision };
      const result = await tx.run(STATE_CYPHER.pruneBelow, {
        agentId,
        maxVersion: neo4j.int(currentVersion - keepLast),
      });
      return { removed: toNumber(result.records[0]?.get("removed") ?? 0), revision };
    });
  }

  async ping(): Promise<void> {
    await this.read((tx) => tx.run(STATE_CYPHER.ping));
  }

  async close(): Promise<void> {
    // The driver belongs to the runtime, which closes it.
  }
}
