/**
 * A LangGraph.js graph that pauses for a human and resumes later, with its state kept in Mnemo:
 * MnemoSaver stores every checkpoint of the thread, so the resume can happen in another process
 * (here: another client and another saver), and MnemoStore keeps what the graph publishes as
 * memories that a recall query finds. No LLM: the nodes are plain functions.
 *
 * Run it against a running Mnemo (`npm start` prints a token):
 *   MNEMO_TOKEN=eyJ... npm run example:langgraph
 * MNEMO_URL defaults to http://127.0.0.1:4000/graphql; MNEMO_AGENT to "langgraph-example".
 */
import {
  Annotation,
  Command,
  END,
  interrupt,
  type LangGraphRunnableConfig,
  START,
  StateGraph,
} from "@langchain/langgraph";
import { createMnemoClient } from "@mnemo/client";
import { MnemoSaver, MnemoStore } from "@mnemo/client/langgraph";

const Note = Annotation.Root({
  topic: Annotation<string>(),
  draft: Annotation<string>(),
  approved: Annotation<boolean>(),
  log: Annotation<string[]>({ reducer: (log, entries) => log.concat(entries), default: () => [] }),
});

export function buildGraph(persistence: { checkpointer: MnemoSaver; store: MnemoStore }) {
  return new StateGraph(Note)
    .addNode("write", (state) => ({ draft: `Remember: ${state.topic}.`, log: ["wrote a draft"] }))
    .addNode("review", (state) => {
      // Stops the run here; the answer comes with the next invoke (Command({ resume })).
      const answer = interrupt({ question: "Publish this note?", draft: state.draft }) as string;
      return { approved: answer === "yes", log: [`reviewer said ${answer}`] };
    })
    .addNode("publish", async (state, config: LangGraphRunnableConfig) => {
      if (state.approved) await config.store?.put(["notes"], state.topic, { text: state.draft });
      return { log: [state.approved ? "published" : "discarded"] };
    })
    .addEdge(START, "write")
    .addEdge("write", "review")
    .addEdge("review", "publish")
    .addEdge("publish", END)
    .compile(persistence);
}

export interface ExampleOptions {
  url: string;
  token: string;
  /** The agent the graph's threads belong to; its notes go to the agent `<agentId>.notes`. */
  agentId: string;
  threadId: string;
  topic: string;
}

/** One "process": a client, a saver and a store of its own, closed afterwards. */
async function session<T>(
  options: ExampleOptions,
  work: (graph: ReturnType<typeof buildGraph>, store: MnemoStore) => Promise<T>,
): Promise<T> {
  const client = createMnemoClient({ url: options.url, token: options.token });
  try {
    const checkpointer = new MnemoSaver({ client, agentId: options.agentId });
    const store = new MnemoStore({
      client,
      agentId: `${options.agentId}.notes`,
      index: { fields: ["text"] },
    });
    return await work(buildGraph({ checkpointer, store }), store);
  } finally {
    await client.close();
  }
}

export async function runExample(options: ExampleOptions) {
  const config = { configurable: { thread_id: options.threadId } };
  const paused = await session(options, async (graph) => {
    await graph.invoke({ topic: options.topic }, config);
    return graph.getState(config); // where the thread stopped, read back from Mnemo
  });
  const finished = await session(options, (graph) => graph.invoke(new Command({ resume: "yes" }), config));
  const history = await session(options, async (graph) => {
    const snapshots = [];
    for await (const snapshot of graph.getStateHistory(config)) snapshots.push(snapshot);
    return snapshots;
  });
  const recalled = await session(options, (_graph, store) =>
    store.search(["notes"], { query: options.topic }),
  );
  return { paused, finished, checkpoints: history.length, recalled };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const token = process.env.MNEMO_TOKEN;
  if (!token) {
    console.error("Set MNEMO_TOKEN to a token `npm start` printed (or one minted with AUTH_JWT_SECRET).");
    process.exit(1);
  }
  const result = await runExample({
    url: process.env.MNEMO_URL ?? "http://127.0.0.1:4000/graphql",
    token,
    agentId: process.env.MNEMO_AGENT ?? "langgraph-example",
    threadId: `thread-${Date.now()}`,
    topic: "green tea is Ada's favourite",
  });
  console.log(
    `paused before ${result.paused.next.join(", ")}:`,
    JSON.stringify(result.paused.tasks[0]?.interrupts[0]?.value),
  );
  console.log("after resume:", result.finished.log.join(" -> "));
  console.log(`checkpoints saved in Mnemo: ${result.checkpoints}`);
  console.log(
    "recalled:",
    result.recalled.map((item) => `${item.key} (${item.score?.toFixed(2)})`).join(", "),
  );
}
