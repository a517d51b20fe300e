/**
 * MnemoSaver beyond LangGraph's validation suite, against the real stack with a real Redis: the
 * values LangGraph's serializer produces (null, undefined, bytes, sets, LangChain messages), the
 * agent's token scope, and a real StateGraph run resumed by a second saver.
 */
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { afterEach, describe, expect, it } from "vitest";
import { agentPrincipal, useRedisStack } from "../../../../test/support/stack.js";
import { ForbiddenError } from "../../src/index.js";
import { MnemoSaver } from "../../src/langgraph/index.js";
import { ClientPool, freshAgent } from "../support.js";

describe("MnemoSaver", () => {
  const env = useRedisStack();
  const clients = new ClientPool();
  afterEach(() => clients.closeAll());

  const newSaver = async (agentId = freshAgent("saver")) =>
    new MnemoSaver({ client: await clients.create(env.mnemo, agentPrincipal(agentId)), agentId });

  it("round-trips what LangGraph's serializer makes: null, undefined, bytes, sets, maps and messages", async () => {
    const saver = await newSaver();
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(0) };
    const values = {
      nothing: null,
      missing: undefined,
      bytes: new Uint8Array([0, 1, 254, 255]),
      tags: new Set(["a", "b"]),
      index: new Map([["k", 1]]),
      messages: [new HumanMessage("What does Ada drink?"), new AIMessage("Green tea.")],
    };
    checkpoint.channel_values = values;
    checkpoint.channel_versions = Object.fromEntries(Object.keys(values).map((channel) => [channel, 1]));
    const config = await saver.put(
      { configurable: { thread_id: "t" } },
      checkpoint,
      { source: "input", step: -1, parents: {} },
      checkpoint.channel_versions,
    );
    await saver.putWrites(config, Object.entries(values), "task-1");

    const tuple = await saver.getTuple(config);
    const restored = tuple!.checkpoint.channel_values;
    expect(restored.nothing).toBeNull();
    expect(restored.bytes).toEqual(values.bytes);
    expect(restored.tags).toEqual(values.tags);
    expect(restored.index).toEqual(values.index);
    const [question, answer] = restored.messages as [HumanMessage, AIMessage];
    expect(HumanMessage.isInstance(question)).toBe(true);
    expect(question.content).toBe("What does Ada drink?");
    expect(AIMessage.isInstance(answer)).toBe(true);
    expect(tuple!.pendingWrites!.map(([, channel, value]) => [channel, value])).toEqual(
      Object.entries(values).map(([channel, value]) => [channel, value]),
    );
  });

  it("works within its token's scope: another agent's threads are FORBIDDEN", async () => {
    const mine = freshAgent("saver");
    const client = await clients.create(env.mnemo, agentPrincipal(mine));
    const intruder = new MnemoSaver({ client, agentId: freshAgent("someone-else") });
    const checkpoint = { ...emptyCheckpoint(), id: uuid6(0) };
    await expect(
      intruder.put(
        { configurable: { thread_id: "t" } },
        checkpoint,
        { source: "input", step: -1, parents: {} },
        {},
      ),
    ).rejects.toBeInstanceOf(ForbiddenError);
    await expect(intruder.getTuple({ configurable: { thread_id: "t" } })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });

  it("persists a StateGraph run: a second saver (another process) continues the thread where it stopped", async () => {
    const agentId = freshAgent("graph");
    const Counter = Annotation.Root({
      ...MessagesAnnotation.spec,
      turns: Annotation<number>({ reducer: (_, next) => next, default: () => 0 }),
    });
    const build = (checkpointer: MnemoSaver) =>
      new StateGraph(Counter)
        .addNode("reply", (state) => ({
          turns: state.turns + 1,
          messages: [new AIMessage(`reply ${state.turns + 1} to ${state.messages.length} messages`)],
        }))
        .addEdge(START, "reply")
        .addEdge("reply", END)
        .compile({ checkpointer });

    const thread = { configurable: { thread_id: "conversation" } };
    const other = { configurable: { thread_id: "other-conversation" } };
    const first = build(await newSaver(agentId));
    await first.invoke({ messages: [new HumanMessage("hi")] }, thread);
    await first.invoke({ messages: [new HumanMessage("hello")] }, other);

    const second = build(await newSaver(agentId));
    const resumed = await second.invoke({ messages: [new HumanMessage("again")] }, thread);
    expect(resumed.turns).toBe(2);
    expect(resumed.messages.map((m) => m.content)).toEqual([
      "hi",
      "reply 1 to 1 messages",
      "again",
      "reply 2 to 3 messages",
    ]);
    expect((await second.getState(other)).values.turns).toBe(1);

    const saver = await newSaver(agentId);
    const threadHistory = [];
    for await (const tuple of saver.list(thread)) threadHistory.push(tuple);
    // Newest first: steps -1, 0, 1 of the first run, then 2, 3, 4 of the resumed one.
    expect(threadHistory.map((t) => t.metadata?.step)).toEqual([4, 3, 2, 1, 0, -1]);
    expect(new Set(threadHistory.map((t) => t.config.configurable?.thread_id))).toEqual(
      new Set(["conversation"]),
    );
    await saver.deleteThread("conversation");
    expect(await saver.getTuple(thread)).toBeUndefined();
    expect(await saver.getTuple(other)).toBeDefined();
  });
});
