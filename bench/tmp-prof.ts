import { startTestStack, ADMIN, TEST_INTERNAL_SECRET } from "/work/main/test/support/stack.js";
import { createPrincipalSigner, PRINCIPAL_HEADER } from "/work/main/core/auth/internal.js";
const m = await startTestStack({});
await m.query(`mutation { putState(agentId: "p", data: {a: 1}) { version } }`);
const url = m.url("gateway"); const auth = `Bearer ${await m.token(ADMIN)}`;
const body = JSON.stringify({ query: `query R { agent(id: "p") { state { version data } } }` });
const signed = await createPrincipalSigner(TEST_INTERNAL_SECRET)(ADMIN);
const hbody = JSON.stringify({ query: `{ __typename }` });
for (const [name, target, headers, b] of [["gateway", url, { authorization: auth }, body], ["subgraph", m.url("state"), { [PRINCIPAL_HEADER]: signed }, body], ["subgraph typename", m.url("state"), { [PRINCIPAL_HEADER]: signed }, hbody], ["health", m.url("state").replace("/graphql","/health"), {}, null]] as const) {
  for (let round = 0; round < 2; round++) {
    const t0 = performance.now(); const N = 300; const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) { const r = await fetch(target, b ? { method: "POST", headers: { "content-type": "application/json", ...headers }, body: b } : {}); await r.text(); }
    const c = process.cpuUsage(c0);
    if (round) console.log(name, "serial ms/req", ((performance.now() - t0) / N).toFixed(2), "cpu ms/req", ((c.user + c.system) / 1000 / N).toFixed(2));
  }
}
await m.close();
