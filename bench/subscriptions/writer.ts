/**
 * A child process of the subscription benchmark: one writer, `putState` through the gateway at a
 * fixed rate, for each job it is sent. It runs apart from the subscribers so that their work does not delay its clock.
 * The rate is kept whatever the response time (a write is sent when it is due, not when the
 * previous one has answered), as a client emitting 50 changes/s would.
 * For every write it reports when the request was sent and when the response arrived, on the
 * machine's monotonic clock (process.hrtime, shared by all processes on Linux).
 */
import { Agent, request } from "undici";

export interface WriterJob {
  gatewayUrl: string;
  token: string;
  agentId: string;
  writes: number;
  perSecond: number;
}

export interface WriteTiming {
  version: number;
  sentNs: string;
  respondedNs: string;
}

// A few keep-alive connections, as a real client would hold; when the gateway is slow, writes
// wait for one instead of opening ever more sockets. They are kept from one job to the next.
const dispatcher = new Agent({ connections: 8, connectTimeout: 60_000, headersTimeout: 120_000 });

process.once("disconnect", () => process.exit(0));
// Jobs come one after another (the warm-up, then the measured writes) to this same process, so
// the measured writes do not start with a cold client.
process.on("message", async (job: WriterJob) => {
  const timings: WriteTiming[] = [];
  const interval = 1000 / job.perSecond;
  const start = performance.now();
  let failures = 0;
  const write = async (step: number) => {
    const sent = process.hrtime.bigint();
    try {
      const response = await request(job.gatewayUrl, {
        method: "POST",
        dispatcher,
        headers: { "content-type": "application/json", authorization: `Bearer ${job.token}` },
        body: JSON.stringify({
          query: "mutation Write($id: ID!, $data: JSON!) { putState(agentId: $id, data: $data) { version } }",
          variables: { id: job.agentId, data: { step, note: "benchmark write" } },
        }),
      });
      const body = (await response.body.json()) as { data?: { putState: { version: number } } };
      const responded = process.hrtime.bigint();
      if (!body.data) throw new Error(JSON.stringify(body));
      timings.push({
        version: body.data.putState.version,
        sentNs: String(sent),
        respondedNs: String(responded),
      });
    } catch (error) {
      failures++;
      if (failures === 1) console.error(`benchmark write failed: ${String(error)}`);
    }
  };
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < job.writes; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(write(i));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - start) / 1000;
  process.send?.({ type: "done", timings, failures, seconds });
});
