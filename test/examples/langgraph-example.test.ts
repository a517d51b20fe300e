/**
 * examples/langgraph/approval-graph.ts runs against the real stack (real Redis): the graph pauses
 * for approval, a second client resumes the thread from Mnemo's checkpoints, and the published
 * note comes back from a recall query through MnemoStore.
 */
import { describe, expect, it } from "vitest";
import { runExample } from "../../examples/langgraph/approval-graph.js";
import { agentPrincipal, useRedisStack } from "../support/stack.js";

describe("the LangGraph example", () => {
  const env = useRedisStack();

  it("pauses, resumes in another session from Mnemo, and publishes a note recall finds", async () => {
    const agentId = "example-agent";
    const result = await runExample({
      url: env.mnemo.url("gateway"),
      // The scope a deployment would give it: the graph's agent and its notes agent, nothing else.
      token: await env.mnemo.token(agentPrincipal(agentId, `${agentId}.notes`)),
      agentId,
      threadId: "thread-1",
      topic: "green tea is Ada's favourite",
    });
    expect(result.paused.next).toEqual(["review"]);
    expect(result.paused.tasks[0]?.interrupts[0]?.value).toEqual({
      question: "Publish this note?",
      draft: "Remember: green tea is Ada's favourite.",
    });
    expect(result.finished.log).toEqual(["wrote a draft", "reviewer said yes", "published"]);
    expect(result.finished.approved).toBe(true);
    expect(result.checkpoints).toBeGreaterThanOrEqual(4);
    expect(result.recalled[0]).toMatchObject({
      namespace: ["notes"],
      key: "green tea is Ada's favourite",
      value: { text: "Remember: green tea is Ada's favourite." },
    });

    // The thread is in Mnemo, under the agent: its newest checkpoint is the finished run.
    const stored = await env.mnemo.query<{ agent: { checkpoints: { totalCount: number } } }>(
      `{ agent(id: "${agentId}") { checkpoints(threadId: "thread-1") { totalCount } } }`,
    );
    expect(stored.data?.agent.checkpoints.totalCount).toBe(result.checkpoints);
  });
});
