/**
 * @mnemo/client/langgraph: LangGraph.js persistence on Mnemo.
 *
 * | file             | role                                                                 |
 * | ---------------- | -------------------------------------------------------------------- |
 * | saver.ts         | MnemoSaver, the checkpointer (BaseCheckpointSaver) on thread checkpoints |
 * | store.ts         | MnemoStore, the long-term store (BaseStore) on memories and recall    |
 * | serialization.ts | LangGraph serializer output as Mnemo stores it                       |
 *
 * Needs the peer dependencies @langchain/langgraph-checkpoint and @langchain/core.
 */
export { MnemoSaver, type MnemoSaverOptions } from "./saver.js";
export { Serialization, type SerializedValue } from "./serialization.js";
export { MAX_NAMESPACE_DEPTH, MnemoStore, type MnemoStoreOptions } from "./store.js";
