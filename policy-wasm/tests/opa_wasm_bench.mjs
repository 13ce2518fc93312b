// Per-verify latency of policy.wasm under the official npm OPA host (@open-policy-agent/opa-wasm,
// V8), for the side-by-side table of `cargo bench -p gatekeeper --bench wasm_host`. For each
// request file: a warm-up, then RUNS timed evaluations; prints one JSON line
// {"name": FILE, "median_us": N, "verified": BOOL}.
//
// usage: node opa_wasm_bench.mjs POLICY.wasm RUNS REQUEST.json...

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { loadPolicy } = require("@open-policy-agent/opa-wasm");

const [wasmPath, runsText, ...requestPaths] = process.argv.slice(2);
const runs = Number(runsText);
if (!wasmPath || !(runs > 0)) {
  console.error("usage: node opa_wasm_bench.mjs POLICY.wasm RUNS REQUEST.json...");
  process.exit(2);
}

const policy = await loadPolicy(readFileSync(wasmPath));
for (const path of requestPaths) {
  const bytes = readFileSync(path);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const evaluate = () => policy.evaluate(buffer);
  let verified = false;
  for (let i = 0; i < 5; i++) verified = evaluate()[0].result.verified === true;
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    evaluate();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ name: path, median_us: times[Math.floor(runs / 2)], verified }));
}
