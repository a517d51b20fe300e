/**
 * Subscription execution for graphql-ws servers, with a fresh context for every event.
 *
 * graphql-js runs every event of a subscription with the context of its subscribe message, so a
 * long-lived subscription would keep per-request state (DataLoaders memoise what they load) for
 * its whole life and later events would see the first event's reads. Here each event gets its
 * own context, like an HTTP request.
 */
import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, execute } from "graphql";

export async function subscribeWithEventContext(
  args: ExecutionArgs,
  eventContext: () => unknown,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream;
  const source = stream[Symbol.asyncIterator]();
  const toResult = async (step: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> => {
    if (step.done) return { done: true, value: undefined };
    const value = await execute({ ...args, rootValue: step.value, contextValue: eventContext() });
    return { done: false, value };
  };
  // Not an async generator on purpose: a generator's return() waits for the pending next(),
  // i.e. for the next event, keeping the (Redis) source subscribed after the client has left.
  // This return() reaches the source at once.
  const results: AsyncIterableIterator<ExecutionResult> = {
    next: async () => toResult(await source.next()),
    return: async () => {
      await source.return?.();
      return { done: true, value: undefined };
    },
    throw: async (error: unknown) => {
      if (source.throw) return toResult(await source.throw(error));
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]: () => results,
  };
  return results;
}
