/**
 * Checks what clients send (memory inputs, filters, weights, configuration) and turns it into
 * domain values. Everything is checked before anything is written; each message names the
 * argument and says what is allowed.
 */
import { badUserInput, payloadTooLarge } from "../../../core/errors.js";
import { searchTextOf } from "./dedup.js";
import {
  CONTRADICTION_POLICIES,
  type ContradictionPolicy,
  type JsonObject,
  MEMORY_KINDS,
  type MemoryConfig,
  type MemoryFilter,
  type MemoryKind,
  MODALITIES,
  type Modality,
  type RecallWeights,
  SIGNALS,
} from "./model.js";
import { normalizeName } from "./text.js";

export const LIMITS = {
  tags: 32,
  tagLength: 64,
  entities: 32,
  relations: 32,
  nameLength: 200,
  typeLength: 64,
  derivedFrom: 32,
  batch: 100,
  sessionIdLength: 128,
  mediaUriLength: 2048,
  queryBytes: 4096,
  maxK: 100,
} as const;

export interface MemoryInput {
  content?: string | null;
  kind?: MemoryKind | null;
  tags?: string[] | null;
  importance?: number | null;
  occurredAt?: Date | string | null;
  metadata?: unknown;
  modality?: Modality | null;
  mediaUri?: string | null;
  caption?: string | null;
  validFrom?: Date | string | null;
  validUntil?: Date | string | null;
  sessionId?: string | null;
  embedding?: number[] | null;
  entities?: { name: string; type?: string | null }[] | null;
  relations?: { from: string; to: string; type: string }[] | null;
  derivedFrom?: string[] | null;
  extractEntities?: boolean | null;
  pinned?: boolean | null;
  supersedes?: string | null;
}

/** A checked input: everything but the id, timestamps and vector, which the service adds. */
export interface PreparedInput {
  content: string;
  kind: MemoryKind;
  tags: string[];
  importance: number;
  occurredAt: string | null;
  metadata: JsonObject | null;
  modality: Modality;
  mediaUri: string | null;
  caption: string | null;
  validFrom: string | null;
  validUntil: string | null;
  sessionId: string | null;
  /** The text that is embedded and indexed: the content, and the caption if any. */
  searchText: string;
  embedding: number[] | null;
  entities: { name: string; normalizedName: string; type: string }[];
  relations: { from: string; to: string; type: string }[];
  derivedFrom: string[];
  extractEntities: boolean;
  pinned: boolean;
  /** Id of an older memory of the agent this one replaces (invalidated at this one's occurredAt). */
  supersedes: string | null;
}

export const DEFAULT_IMPORTANCE = 0.5;

export function prepareMemoryInput(input: MemoryInput, maxBytes: number, at: string): PreparedInput {
  const arg = (name: string) => `${at}.${name}`;
  const modality = input.modality ?? "TEXT";
  if (!MODALITIES.includes(modality))
    throw badUserInput(`${arg("modality")} must be one of ${MODALITIES.join(", ")}`);
  const caption = optionalText(input.caption, arg("caption"));
  if (modality !== "TEXT" && !caption) {
    throw badUserInput(
      `${arg("caption")} is required for ${modality} memories: the caption is what is embedded and searched`,
      { argument: arg("caption") },
    );
  }
  const content = optionalText(input.content, arg("content")) ?? (modality === "TEXT" ? null : caption);
  if (!content) throw badUserInput(`${arg("content")} must not be empty`, { argument: arg("content") });

  const kind = input.kind ?? "EPISODIC";
  if (!MEMORY_KINDS.includes(kind))
    throw badUserInput(`${arg("kind")} must be one of ${MEMORY_KINDS.join(", ")}`);
  const importance = input.importance ?? DEFAULT_IMPORTANCE;
  if (!Number.isFinite(importance) || importance < 0 || importance > 1) {
    throw badUserInput(`${arg("importance")} must be from 0 to 1 (got ${importance})`, {
      argument: arg("importance"),
    });
  }

  const tags = [...new Set((input.tags ?? []).map((tag) => tag.trim()).filter(Boolean))];
  if (tags.length > LIMITS.tags || tags.some((tag) => tag.length > LIMITS.tagLength)) {
    throw badUserInput(
      `${arg("tags")} allows at most ${LIMITS.tags} tags of at most ${LIMITS.tagLength} characters`,
      {
        argument: arg("tags"),
      },
    );
  }

  let metadata: JsonObject | null = null;
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== "object" || Array.isArray(input.metadata)) {
      throw badUserInput(`${arg("metadata")} must be a JSON object`, { argument: arg("metadata") });
    }
    metadata = input.metadata as JsonObject;
  }

  const mediaUri = optionalText(input.mediaUri, arg("mediaUri"));
  if (mediaUri && mediaUri.length > LIMITS.mediaUriLength) {
    throw badUserInput(`${arg("mediaUri")} is longer than ${LIMITS.mediaUriLength} characters`);
  }
  const sessionId = optionalText(input.sessionId, arg("sessionId"));
  if (sessionId && sessionId.length > LIMITS.sessionIdLength) {
    throw badUserInput(`${arg("sessionId")} is longer than ${LIMITS.sessionIdLength} characters`);
  }

  const size =
    Buffer.byteLength(content) +
    (caption && caption !== content ? Buffer.byteLength(caption) : 0) +
    (metadata ? Buffer.byteLength(JSON.stringify(metadata)) : 0);
  if (size > maxBytes) {
    throw payloadTooLarge(
      `${at} is ${size} bytes (content, caption and metadata); the limit is ${maxBytes} bytes (MEMORY_MAX_BYTES)`,
      { argument: arg("content"), size, limit: maxBytes },
    );
  }

  const validFrom = optionalDate(input.validFrom, arg("validFrom"));
  const validUntil = optionalDate(input.validUntil, arg("validUntil"));
  if (validFrom && validUntil && validUntil <= validFrom) {
    throw badUserInput(`${arg("validUntil")} must be after ${arg("validFrom")}`, {
      argument: arg("validUntil"),
    });
  }

  const entities = new Map<string, { name: string; normalizedName: string; type: string }>();
  const addEntity = (name: string, type: string, where: string) => {
    const trimmed = name.trim();
    const normalizedName = normalizeName(trimmed);
    if (!normalizedName || trimmed.length > LIMITS.nameLength) {
      throw badUserInput(
        `${where} must be a name of 1 to ${LIMITS.nameLength} characters with a letter or digit`,
        {
          argument: where,
        },
      );
    }
    const cleanType = checkType(type, where);
    if (!entities.has(normalizedName))
      entities.set(normalizedName, { name: trimmed, normalizedName, type: cleanType });
    return normalizedName;
  };
  const entityInputs = input.entities ?? [];
  if (entityInputs.length > LIMITS.entities) {
    throw badUserInput(`${arg("entities")} allows at most ${LIMITS.entities} entities`);
  }
  entityInputs.forEach((entity, i) => {
    addEntity(entity.name, entity.type ?? "TOPIC", `${arg("entities")}[${i}].name`);
  });
  const relationInputs = input.relations ?? [];
  if (relationInputs.length > LIMITS.relations) {
    throw badUserInput(`${arg("relations")} allows at most ${LIMITS.relations} relations`);
  }
  const relations = relationInputs.map((relation, i) => {
    const where = `${arg("relations")}[${i}]`;
    return {
      from: addEntity(relation.from, "TOPIC", `${where}.from`),
      to: addEntity(relation.to, "TOPIC", `${where}.to`),
      type: checkType(relation.type, `${where}.type`),
    };
  });

  const derivedFrom = [...new Set(input.derivedFrom ?? [])];
  if (derivedFrom.length > LIMITS.derivedFrom) {
    throw badUserInput(`${arg("derivedFrom")} allows at most ${LIMITS.derivedFrom} memories`);
  }

  return {
    content,
    kind,
    tags,
    importance,
    occurredAt: optionalDate(input.occurredAt, arg("occurredAt")),
    metadata,
    modality,
    mediaUri,
    caption,
    validFrom,
    validUntil,
    sessionId,
    searchText: searchTextOf({ content, caption }),
    embedding: input.embedding ?? null,
    entities: [...entities.values()],
    relations,
    derivedFrom,
    extractEntities: input.extractEntities ?? true,
    pinned: input.pinned ?? false,
    supersedes: optionalText(input.supersedes, arg("supersedes")),
  };
}

function checkType(type: string, where: string): string {
  const trimmed = type.trim();
  if (!trimmed || trimmed.length > LIMITS.typeLength) {
    throw badUserInput(`${where}: a type must have 1 to ${LIMITS.typeLength} characters`, {
      argument: where,
    });
  }
  return trimmed;
}

function optionalText(value: string | null | undefined, argument: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw badUserInput(`${argument} must be a string`, { argument });
  return value.trim().length === 0 ? null : value;
}

/** RFC 3339 date-time with a time zone, as graphql-scalars' DateTime expects. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * DateTime arrives unchecked (see scalars.ts) or as a Date from direct callers; it is stored as
 * ISO 8601 UTC with milliseconds, so stored instants compare correctly as strings.
 */
export function optionalDate(value: unknown, argument: string): string | null {
  if (value === null || value === undefined) return null;
  const date =
    value instanceof Date
      ? value
      : typeof value === "string" && DATE_TIME.test(value)
        ? new Date(value)
        : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw badUserInput(
      `${argument} must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T09:00:00Z`,
      {
        argument,
      },
    );
  }
  return date.toISOString();
}

export interface FilterInput {
  kinds?: MemoryKind[] | null;
  tags?: string[] | null;
  modalities?: Modality[] | null;
  occurredAfter?: Date | string | null;
  occurredBefore?: Date | string | null;
  sessionId?: string | null;
  includeInvalid?: boolean | null;
  asOf?: Date | string | null;
}

export function prepareFilter(input: FilterInput | null | undefined): MemoryFilter {
  if (!input) return {};
  const filter: MemoryFilter = {};
  if (input.kinds?.length) filter.kinds = [...input.kinds];
  if (input.tags?.length) filter.tags = input.tags.map((tag) => tag.trim());
  if (input.modalities?.length) filter.modalities = [...input.modalities];
  const after = optionalDate(input.occurredAfter, "filter.occurredAfter");
  const before = optionalDate(input.occurredBefore, "filter.occurredBefore");
  if (after && before && before <= after) {
    throw badUserInput("filter.occurredBefore must be after filter.occurredAfter", {
      argument: "filter.occurredBefore",
    });
  }
  if (after) filter.occurredAfter = after;
  if (before) filter.occurredBefore = before;
  if (input.sessionId) filter.sessionId = input.sessionId;
  if (input.includeInvalid) filter.includeInvalid = true;
  const asOf = optionalDate(input.asOf, "filter.asOf");
  if (asOf) filter.asOf = asOf;
  return filter;
}

/** Partial weights over a base: unknown signals are impossible (GraphQL input type), negatives refused. */
export function mergeWeights(
  base: RecallWeights,
  input: Partial<Record<string, number | null>> | null | undefined,
  argument: string,
): RecallWeights {
  const weights = { ...base };
  for (const name of SIGNALS) {
    const value = input?.[name];
    if (value === null || value === undefined) continue;
    if (!Number.isFinite(value) || value < 0 || value > 100) {
      throw badUserInput(`${argument}.${name} must be from 0 to 100 (got ${value})`, {
        argument: `${argument}.${name}`,
      });
    }
    weights[name] = value;
  }
  if (SIGNALS.every((name) => weights[name] === 0)) {
    throw badUserInput(`${argument}: at least one weight must be above 0`, { argument });
  }
  return weights;
}

export interface MemoryConfigInput {
  weights?: Partial<Record<string, number | null>> | null;
  forgetting?: {
    maxAgeHours?: number | null;
    inactiveHours?: number | null;
    minImportance?: number | null;
  } | null;
  learningRate?: number | null;
  recencyHalfLifeHours?: number | null;
  dedupThreshold?: number | null;
  contradictionPolicy?: ContradictionPolicy | null;
  capacity?: number | null;
}

/**
 * Applies a partial configuration change; `capacity: 0` removes the limit, and so does 0 for a
 * forgetting rule. Setting weights explicitly starts learning again from them.
 */
export function mergeConfig(base: MemoryConfig, input: MemoryConfigInput): MemoryConfig {
  const config: MemoryConfig = {
    ...base,
    weights: mergeWeights(base.weights, input.weights, "config.weights"),
    forgetting: { ...base.forgetting },
  };
  if (input.weights) config.learned = null;
  const forgetting = input.forgetting ?? {};
  for (const [name, max] of [
    ["maxAgeHours", 1_000_000],
    ["inactiveHours", 1_000_000],
    ["minImportance", 1],
  ] as const) {
    const value = forgetting[name];
    if (value === null || value === undefined) continue;
    if (!Number.isFinite(value) || value < 0 || value > max) {
      throw badUserInput(`config.forgetting.${name} must be from 0 (off) to ${max} (got ${value})`, {
        argument: `config.forgetting.${name}`,
      });
    }
    config.forgetting[name] = value === 0 ? null : value;
  }
  if (input.learningRate !== null && input.learningRate !== undefined) {
    const value = input.learningRate;
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw badUserInput(`config.learningRate must be from 0 (off) to 1 (got ${value})`, {
        argument: "config.learningRate",
      });
    }
    config.learningRate = value;
  }
  if (input.recencyHalfLifeHours !== null && input.recencyHalfLifeHours !== undefined) {
    const value = input.recencyHalfLifeHours;
    if (!Number.isFinite(value) || value <= 0 || value > 1_000_000) {
      throw badUserInput(`config.recencyHalfLifeHours must be above 0 and at most 1000000 (got ${value})`, {
        argument: "config.recencyHalfLifeHours",
      });
    }
    config.recencyHalfLifeHours = value;
  }
  if (input.dedupThreshold !== null && input.dedupThreshold !== undefined) {
    const value = input.dedupThreshold;
    if (!Number.isFinite(value) || value < 0.5 || value > 1) {
      throw badUserInput(
        `config.dedupThreshold must be from 0.5 to 1 (got ${value}); 1 merges exact duplicates only`,
        { argument: "config.dedupThreshold" },
      );
    }
    config.dedupThreshold = value;
  }
  if (input.contradictionPolicy !== null && input.contradictionPolicy !== undefined) {
    // The GraphQL enum already refuses other values; this guards callers that bypass it.
    if (!CONTRADICTION_POLICIES.includes(input.contradictionPolicy)) {
      throw badUserInput(
        `config.contradictionPolicy must be one of ${CONTRADICTION_POLICIES.join(", ")} (got ${String(input.contradictionPolicy)})`,
        { argument: "config.contradictionPolicy" },
      );
    }
    config.contradictionPolicy = input.contradictionPolicy;
  }
  if (input.capacity !== null && input.capacity !== undefined) {
    const value = input.capacity;
    if (!Number.isInteger(value) || value < 0) {
      throw badUserInput(`config.capacity must be a whole number, 0 for no limit (got ${value})`, {
        argument: "config.capacity",
      });
    }
    config.capacity = value === 0 ? null : value;
  }
  return config;
}

export function checkK(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > LIMITS.maxK) {
    throw badUserInput(`k must be an integer from 1 to ${LIMITS.maxK} (got ${k})`, { argument: "k" });
  }
  return k;
}

export function checkQuery(query: string): string {
  if (query.trim().length === 0) throw badUserInput("query must not be empty", { argument: "query" });
  if (Buffer.byteLength(query) > LIMITS.queryBytes) {
    throw payloadTooLarge(`query is longer than ${LIMITS.queryBytes} bytes`, { argument: "query" });
  }
  return query;
}
