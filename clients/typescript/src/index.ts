/**
 * @mnemo/client: a typed client for Mnemo. Operations are generated from the supergraph
 * (src/generated/operations.ts); the classes here wrap them in a small API.
 */
export {
  CheckpointApi,
  type CheckpointListOptions,
  type CheckpointPage,
  type StoredCheckpoint,
} from "./checkpoints.js";
export { createMnemoClient, type MnemoClient, type MnemoClientOptions, webSocketUrl } from "./client.js";
export * from "./errors.js";
export type * from "./generated/operations.js";
export * as operations from "./generated/operations.js";
export {
  type Memory,
  MemoryApi,
  type MemoryPage,
  type RecallHit,
  type RecallOptions,
  type RememberResult,
} from "./memory.js";
export {
  DEFAULT_UPDATE_ATTEMPTS,
  type HistoryEntry,
  type HistoryPage,
  StateApi,
  type StateVersion,
  type UpdateOptions,
  type Updater,
  type WriteOptions,
} from "./state.js";
export { CloseCode, type StateChangedOptions, SubscriptionApi } from "./subscriptions/index.js";
export type { Operation, TokenSource } from "./transport.js";
