/**
 * Nearest neighbours for agents with many memories, on SQLite: a binary-quantised first pass
 * over the whole agent, then the exact cosine of the few hundred best, read from their stored
 * vectors.
 *
 * Why: sqlite-vec's k-NN is an exact scan of float vectors (no approximate index); at 100k
 * memories of one agent it costs ~100 ms alone, past the whole recall budget. One bit per
 * dimension (its sign) keeps 1/32 of the bytes, and the Hamming distance between two codes
 * follows the angle between the vectors closely enough that the true nearest neighbours are
 * almost always among the best few hundred codes (the loss is measured by `npm run bench:memory`).
 * sqlite-vec can store bit vectors too, but its top-k keeps a sorted list (cost grows with
 * k × rows: ~60 ms for k = 200 at 100k rows here), so the scan runs in JavaScript over codes
 * kept in memory, with a counting selection that is linear in the rows.
 *
 * The codes live in `memory_codes` (kept by triggers on `memory_embeddings`, so every write path
 * fills it without knowing about it; sizes that are not a multiple of 8 get no codes, and are
 * always searched exactly), and each agent's codes are cached in memory, refreshed
 * when the agent's memory revision moves: new rows are appended; rows that were deleted stay
 * in the cache (their exact vector is gone, so the re-rank drops them) until they are more than
 * a tenth of it, then the agent's codes are read again.
 */
import { LRUCache } from "lru-cache";
import type { SqliteDatabase } from "../../../core/store/sqlite.js";
import { blobVector, vectorBlob } from "./sqlite-vector-blob.js";

/** Below this many memories, the exact scan is as fast and loses nothing. */
export const APPROXIMATE_FROM = 2_000;
/** Codes re-ranked exactly per result wanted, and at least this many. */
const RERANK = { perResult: 4, minimum: 400 };
/** Cached code bytes across agents (the LRU evicts whole agents past this). */
const CACHE_BYTES = 256 * 1024 * 1024;
/** A cache with more deleted rows than this share of its live rows is read again. */
const STALE_SHARE = 0.1;

/** The schema the index needs; a numbered migration of the SQLite memory store. */
export const MEMORY_CODES_MIGRATION = `CREATE TABLE memory_codes (
     seq INTEGER PRIMARY KEY REFERENCES memories (seq) ON DELETE CASCADE,
     agent_id TEXT NOT NULL,
     code BLOB NOT NULL
   );
   CREATE INDEX memory_codes_agent ON memory_codes (agent_id, seq);
   CREATE TRIGGER memory_codes_insert AFTER INSERT ON memory_embeddings
   WHEN length(NEW.embedding) % 32 = 0 BEGIN
     INSERT OR REPLACE INTO memory_codes (seq, agent_id, code)
     SELECT NEW.seq, m.agent_id, vec_quantize_binary(vec_f32(NEW.embedding)) FROM memories m WHERE m.seq = NEW.seq;
   END;
   CREATE TRIGGER memory_codes_update AFTER UPDATE OF embedding ON memory_embeddings
   WHEN length(NEW.embedding) % 32 = 0 BEGIN
     UPDATE memory_codes SET code = vec_quantize_binary(vec_f32(NEW.embedding)) WHERE seq = NEW.seq;
   END;
   INSERT INTO memory_codes (seq, agent_id, code)
     SELECT e.seq, m.agent_id, vec_quantize_binary(vec_f32(e.embedding))
     FROM memory_embeddings e JOIN memories m ON m.seq = e.seq WHERE length(e.embedding) % 32 = 0;`;

interface AgentCodes {
  revision: number;
  /** Rows in the cache, and how many of them were live when last counted. */
  size: number;
  live: number;
  maxSeq: number;
  seqs: Int32Array;
  codes: Uint32Array;
}

export interface NearestSeq {
  seq: number;
  similarity: number;
}

export class SqliteVectorIndex {
  private readonly words: number;
  private readonly agents: LRUCache<string, AgentCodes>;
  private readonly s;

  constructor(db: SqliteDatabase, dimensions: number) {
    this.words = Math.ceil(dimensions / 32);
    this.agents = new LRUCache<string, AgentCodes>({
      maxSize: CACHE_BYTES,
      sizeCalculation: (entry) => Math.max(1, entry.codes.byteLength + entry.seqs.byteLength),
    });
    this.s = {
      revision: db.prepare("SELECT revision FROM memory_agents WHERE agent_id = ?"),
      codesAfter: db.prepare(
        "SELECT seq, code FROM memory_codes WHERE agent_id = ? AND seq > ? ORDER BY seq",
      ),
      count: db.prepare("SELECT count(*) AS n FROM memory_codes WHERE agent_id = ?"),
      queryCode: db.prepare("SELECT vec_quantize_binary(vec_f32(?)) AS code"),
      vectorOf: db.prepare("SELECT embedding FROM memory_embeddings WHERE seq = ?"),
    };
  }

  /** How many coded memories the agent has (from the cache when it is current). */
  size(agentId: string): number {
    return this.current(agentId).live;
  }

  /**
   * The agent's memories nearest to `query` (unit length), best first, by exact cosine among the
   * `pool` best codes (at least the re-rank minimum).
   */
  nearest(agentId: string, query: Float32Array, limit: number): NearestSeq[] {
    const agent = this.current(agentId);
    const pool = Math.min(agent.size, Math.max(RERANK.minimum, limit * RERANK.perResult));
    const queryCode = this.code((this.s.queryCode.get(vectorBlob(query)) as { code: Buffer }).code);
    const rows = this.closestCodes(agent, queryCode, pool);
    const hits: NearestSeq[] = [];
    for (const row of rows) {
      const seq = agent.seqs[row]!;
      const found = this.s.vectorOf.get(seq) as { embedding: Buffer } | undefined;
      if (!found) continue; // deleted since the cache was read
      hits.push({ seq, similarity: dot(query, found.embedding) });
    }
    hits.sort((a, b) => b.similarity - a.similarity || b.seq - a.seq);
    return hits.slice(0, limit);
  }

  /** Indexes of the `pool` codes nearest to `query` by Hamming distance (counting selection, linear). */
  private closestCodes(agent: AgentCodes, query: Uint32Array, pool: number): number[] {
    const { words } = this;
    const distances = new Uint16Array(agent.size);
    const histogram = new Int32Array(words * 32 + 1);
    const codes = agent.codes;
    for (let row = 0; row < agent.size; row++) {
      let distance = 0;
      const offset = row * words;
      for (let w = 0; w < words; w++) distance += popcount(codes[offset + w]! ^ query[w]!);
      distances[row] = distance;
      histogram[distance]!++;
    }
    let threshold = 0;
    for (let seen = 0; threshold < histogram.length; threshold++) {
      seen += histogram[threshold]!;
      if (seen >= pool) break;
    }
    const below: number[] = [];
    const at: number[] = [];
    for (let row = 0; row < agent.size; row++) {
      const distance = distances[row]!;
      if (distance < threshold) below.push(row);
      else if (distance === threshold) at.push(row);
    }
    return below.concat(at.slice(0, Math.max(0, pool - below.length)));
  }

  /** The agent's codes, refreshed when its memory revision moved since they were read. */
  private current(agentId: string): AgentCodes {
    const revision = (this.s.revision.get(agentId) as { revision: number } | undefined)?.revision ?? 0;
    let agent = this.agents.get(agentId);
    if (agent?.revision === revision) return agent;
    if (!agent) agent = this.empty(revision);
    this.append(agent, agentId);
    const live = (this.s.count.get(agentId) as { n: number }).n;
    if (agent.size - live > live * STALE_SHARE) {
      agent = this.empty(revision);
      this.append(agent, agentId);
    }
    agent.revision = revision;
    agent.live = live;
    this.agents.set(agentId, agent);
    return agent;
  }

  private empty(revision: number): AgentCodes {
    return {
      revision,
      size: 0,
      live: 0,
      maxSeq: 0,
      seqs: new Int32Array(1024),
      codes: new Uint32Array(1024 * this.words),
    };
  }

  private append(agent: AgentCodes, agentId: string): void {
    for (const row of this.s.codesAfter.iterate(agentId, agent.maxSeq) as Iterable<{
      seq: number;
      code: Buffer;
    }>) {
      if (agent.size === agent.seqs.length) {
        const seqs = new Int32Array(agent.seqs.length * 2);
        seqs.set(agent.seqs);
        const codes = new Uint32Array(agent.codes.length * 2);
        codes.set(agent.codes);
        agent.seqs = seqs;
        agent.codes = codes;
      }
      agent.seqs[agent.size] = row.seq;
      agent.codes.set(this.code(row.code), agent.size * this.words);
      agent.size++;
      agent.maxSeq = row.seq;
    }
  }

  /** A code blob as 32-bit words (the last word zero-padded). */
  private code(blob: Buffer): Uint32Array {
    const words = new Uint32Array(this.words);
    const bytes = new Uint8Array(words.buffer);
    bytes.set(blob.subarray(0, Math.min(blob.length, bytes.length)));
    return words;
  }

  /** Forgets every cached agent (after the store's vectors were replaced wholesale). */
  clear(): void {
    this.agents.clear();
  }
}

function popcount(value: number): number {
  let x = value - ((value >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function dot(query: Float32Array, blob: Buffer): number {
  // A Float32Array view needs a 4-byte aligned offset; a pooled Buffer may not have one.
  const vector =
    blob.byteOffset % 4 === 0
      ? new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4)
      : blobVector(blob);
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += query[i]! * vector[i]!;
  return sum;
}
