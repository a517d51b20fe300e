/**
 * `client.subscribe`: live events as async iterators over graphql-ws.
 *
 * | file              | role                                                               |
 * | ----------------- | ------------------------------------------------------------------ |
 * | socket.ts         | the shared graphql-ws connection, reconnects, close-code errors    |
 * | event-stream.ts   | push-to-pull queue behind each iterator                            |
 * | state-sequence.ts | gap-free stateChanged: versions missed while disconnected          |
 */
import type { Client } from "graphql-ws";
import {
  AgentStateChangedDocument,
  type AgentStateChangedSubscription,
  type AgentStateChangedSubscriptionVariables,
  MemoryAddedDocument,
  type MemoryAddedSubscription,
  type MemoryAddedSubscriptionVariables,
} from "../generated/operations.js";
import type { StateApi, StateVersion } from "../state.js";
import type { Operation } from "../transport.js";
import { EventStream } from "./event-stream.js";
import { createSocket, type SocketOptions, subscriptionError } from "./socket.js";
import { StateSequence } from "./state-sequence.js";

export type { SocketOptions } from "./socket.js";
export { CloseCode, DEFAULT_RETRY_ATTEMPTS } from "./socket.js";

export interface StateChangedOptions {
  /**
   * The version you already have: the stream then starts right after it, reading back from
   * history any version written before the first event arrives (or before a reconnect).
   */
  afterVersion?: number;
}

export class SubscriptionApi {
  private socket: Client | null = null;
  private readonly reconnectListeners = new Set<() => void>();

  constructor(
    private readonly options: SocketOptions,
    private readonly state: StateApi,
  ) {}

  /**
   * Every new version of the agent's state, in order. Versions written while the socket was
   * down are read back from history after it reconnects (see state-sequence.ts).
   */
  stateChanged<T = unknown>(
    agentId: string,
    options: StateChangedOptions = {},
  ): AsyncIterableIterator<StateVersion<T>> {
    let sequence: StateSequence<T> | undefined;
    const onReconnected = () => sequence?.catchUp();
    const stream = this.stream<
      AgentStateChangedSubscription,
      AgentStateChangedSubscriptionVariables,
      StateVersion<T>
    >(
      AgentStateChangedDocument,
      { agentId },
      (data) => sequence?.receive(data.agentStateChanged as StateVersion<T>),
      () => this.reconnectListeners.delete(onReconnected),
    );
    sequence = new StateSequence<T>(
      {
        version: (version) => this.state.get<T>(agentId, { version }),
        current: () => this.state.get<T>(agentId),
      },
      (version) => stream.push(version),
      options.afterVersion,
    );
    this.reconnectListeners.add(onReconnected);
    return stream;
  }

  /** Every memory created for the agent (not merges into existing ones), as it is committed. */
  memoryAdded(agentId: string): AsyncIterableIterator<MemoryAddedSubscription["memoryAdded"]> {
    let stream: EventStream<MemoryAddedSubscription["memoryAdded"]> | undefined;
    stream = this.stream<
      MemoryAddedSubscription,
      MemoryAddedSubscriptionVariables,
      MemoryAddedSubscription["memoryAdded"]
    >(MemoryAddedDocument, { agentId }, (data) => stream?.push(data.memoryAdded));
    return stream;
  }

  /** Closes the socket; active iterators end. */
  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    // dispose() waits for a connection attempt in progress and rejects when that attempt failed
    // (the gateway is down): then there is no socket left to close.
    await Promise.resolve(socket?.dispose()).catch(() => {});
  }

  private stream<TResult, TVariables, TEvent>(
    operation: Operation<TResult, TVariables>,
    variables: TVariables,
    onData: (data: TResult) => void,
    onStop: () => void = () => {},
  ): EventStream<TEvent> {
    const socket = this.connect();
    let unsubscribe: () => void = () => {};
    const stream = new EventStream<TEvent>(() => {
      onStop();
      unsubscribe();
    });
    unsubscribe = socket.subscribe<TResult>(
      { query: operation.toString(), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          // A field error inside an event comes with the rest of the event, and the subscription
          // goes on (docs/architecture.md); only an event with no data at all ends the iterator.
          if (result.data) onData(result.data);
          else stream.fail(subscriptionError(result.errors ?? []));
        },
        error: (error) => stream.fail(subscriptionError(error)),
        complete: () => stream.end(),
      },
    );
    return stream;
  }

  private connect(): Client {
    this.socket ??= createSocket(this.options, () => {
      for (const listener of this.reconnectListeners) listener();
    });
    return this.socket;
  }
}
