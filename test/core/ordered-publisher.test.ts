import { describe, expect, it } from "vitest";
import { createInProcessEventBus, OrderedPublisher } from "../../core/events.js";

describe("OrderedPublisher", () => {
  it("delivers per key in reservation order, whatever order the work finishes in", async () => {
    const bus = createInProcessEventBus();
    const received: string[] = [];
    await bus.listen<{ n: string }>("t", (payload) => received.push(payload.n));
    const publisher = new OrderedPublisher(bus, () => {});
    const first = publisher.reserve("agent-1");
    const second = publisher.reserve("agent-1");
    const third = publisher.reserve("agent-1");
    const otherKey = publisher.reserve("agent-2");

    third.publish("t", { n: "v3" });
    otherKey.publish("t", { n: "other" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual(["other"]);
    second.skip();
    first.publish("t", { n: "v1" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual(["other", "v1", "v3"]);
  });
});
