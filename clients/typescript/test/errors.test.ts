/**
 * Error classes by `extensions.code`: one class per code of the server's vocabulary
 * (core/errors.ts), each raised here by a real server answering a real mistake.
 */
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../core/errors.js";
import {
  agentPrincipal,
  startTestStack,
  type TestStack,
  useRedisStack,
} from "../../../test/support/stack.js";
import {
  BadUserInputError,
  createMnemoClient,
  ERROR_CLASSES,
  errorFromGraphQL,
  ForbiddenError,
  InternalServerError,
  InvalidRequestError,
  MnemoError,
  NotFoundError,
  type Operation,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
  VersionConflictError,
} from "../src/index.js";
import { ClientPool, freshAgent } from "./support.js";

describe("error classes", () => {
  it("cover every code of the server's vocabulary with their own subclass of MnemoError", () => {
    for (const code of Object.values(ErrorCode)) {
      const error = errorFromGraphQL([{ message: "m", extensions: { code } }]);
      expect(error, code).toBeInstanceOf(MnemoError);
      expect(error.constructor, code).not.toBe(MnemoError);
      expect(error.code).toBe(code);
    }
    const covered = ERROR_CLASSES.flatMap((errorClass) => errorClass.codes);
    expect(covered).toEqual(expect.arrayContaining(Object.values(ErrorCode)));
    expect(new Set(covered).size).toBe(covered.length);
  });

  it("keep the message, the extensions, the path and every error of the response", () => {
    const errors = [
      {
        message: "first",
        path: ["putState"],
        extensions: { code: "INTERNAL_SERVER_ERROR", requestId: "r1" },
      },
      { message: "second", extensions: { code: "NOT_FOUND" } },
    ];
    const error = errorFromGraphQL(errors, { status: 200 });
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({
      message: "first",
      path: ["putState"],
      status: 200,
      name: "InternalServerError",
    });
    expect(error.extensions.requestId).toBe("r1");
    expect(error.errors).toEqual(errors);
    // A code outside the vocabulary is still a MnemoError, with its code.
    expect(errorFromGraphQL([{ message: "x", extensions: { code: "SOMETHING_NEW" } }])).toMatchObject({
      code: "SOMETHING_NEW",
      constructor: MnemoError,
    });
  });

  describe("from a real stack", () => {
    const env = useRedisStack({ env: { STATE_MAX_BYTES: "256" } });
    const clients = new ClientPool();
    afterEach(() => clients.closeAll());

    it("BAD_USER_INPUT: an invalid agent id", async () => {
      const client = await clients.create(env.mnemo);
      const error = await client.state.put("not a valid id!", { a: 1 }).catch((e) => e);
      expect(error).toBeInstanceOf(BadUserInputError);
      expect(error.message).toMatch(/agentId/);
    });

    it("NOT_FOUND: a rollback to a version that was never written", async () => {
      const client = await clients.create(env.mnemo);
      const agent = freshAgent();
      await client.state.put(agent, { a: 1 });
      await expect(client.state.rollback(agent, 7)).rejects.toBeInstanceOf(NotFoundError);
    });

    it("VERSION_CONFLICT: a stale expectedVersion, with currentVersion", async () => {
      const client = await clients.create(env.mnemo);
      const error = await client.state.put(freshAgent(), { a: 1 }, { expectedVersion: 4 }).catch((e) => e);
      expect(error).toBeInstanceOf(VersionConflictError);
      expect(error.currentVersion).toBe(0);
    });

    it("UNAUTHENTICATED: a token the server cannot verify (HTTP 401)", async () => {
      const client = clients.track(createMnemoClient({ url: env.mnemo.url("gateway"), token: "not-a-jwt" }));
      const error = await client.state.get("a").catch((e) => e);
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect(error.status).toBe(401);
    });

    it("FORBIDDEN: an agent token touching another agent", async () => {
      const client = await clients.create(env.mnemo, agentPrincipal("mine"));
      await expect(client.state.put("someone-else", { a: 1 })).rejects.toBeInstanceOf(ForbiddenError);
      await expect(client.memory.remember("someone-else", "x")).rejects.toBeInstanceOf(ForbiddenError);
    });

    it("PAYLOAD_TOO_LARGE: a document over STATE_MAX_BYTES", async () => {
      const client = await clients.create(env.mnemo);
      const error = await client.state.put(freshAgent(), { text: "x".repeat(300) }).catch((e) => e);
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect(error.extensions).toMatchObject({ limit: 256 });
    });

    it("GRAPHQL_VALIDATION_FAILED: a document the server's schema does not have is an InvalidRequestError", async () => {
      const client = await clients.create(env.mnemo);
      const stale = 'query Stale { agent(id: "a") { removedField } }' as unknown as Operation<
        unknown,
        object
      >;
      const error = (await client.request(stale, {}).catch((e) => e)) as MnemoError;
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error.code).toBe("GRAPHQL_VALIDATION_FAILED");
    });
  });

  describe("RATE_LIMITED", () => {
    let stack: TestStack;
    beforeAll(async () => {
      stack = await startTestStack({ env: { RATE_LIMIT_PER_MINUTE: "3" } });
    });
    afterAll(() => stack?.close());

    it("the fourth operation in a minute, with retryAfterSeconds", async () => {
      const client = createMnemoClient({
        url: stack.url("gateway"),
        token: await stack.token(agentPrincipal("r")),
      });
      for (let i = 0; i < 3; i++) await client.state.get("r");
      const error = await client.state.get("r").catch((e) => e);
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(error.retryAfterSeconds).toBeGreaterThan(0);
      expect(error.status).toBe(429);
    });
  });

  it("UNAVAILABLE: nothing listens at the URL", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const client = createMnemoClient({ url: `http://127.0.0.1:${port}/graphql`, token: "t" });
    const error = await client.state.get("a").catch((e) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });
});
