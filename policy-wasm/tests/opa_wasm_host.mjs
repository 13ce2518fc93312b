// Loads policy.wasm with the official npm OPA host (@open-policy-agent/opa-wasm) and evaluates
// every request file given, printing one JSON line per request:
//
//   {"name": FILE, "fast": REPORT|{"abort": MSG}, "ctx": REPORT|{"abort": MSG}|null, "rego": TEXT}
//
// - fast: the npm SDK's own LoadedPolicy.evaluate (ABI 1.2 opa_eval, format 0), given the
//   request's exact bytes as an ArrayBuffer;
// - ctx:  the ABI 1.0 path driven by hand (opa_malloc, opa_json_parse, opa_eval_ctx_*, eval,
//   opa_eval_ctx_get_result, opa_json_dump); null when the bytes are not JSON (hosts parse
//   before they get here);
// - rego: opa_eval with format 1, the Rego value text OPA itself asks for.
//
// Then one line for no input at all, one for running out of memory, one "abi" line with the results of the value exports, and
// a final "memory" line: the stack high-water mark and whether a second pass over all requests
// grew memory (it must not: every evaluation starts at the same heap pointer).
//
// usage: node opa_wasm_host.mjs POLICY.wasm REQUEST.json...

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// node_modules lives in ../node (scripts/npm-setup.sh installs it there).
const require = createRequire(new URL("../node/package.json", import.meta.url));
const { loadPolicy } = require("@open-policy-agent/opa-wasm");

const [wasmPath, ...requestPaths] = process.argv.slice(2);
if (!wasmPath) {
  console.error("usage: node opa_wasm_host.mjs POLICY.wasm REQUEST.json...");
  process.exit(2);
}

const policy = await loadPolicy(readFileSync(wasmPath));
const exp = policy.wasmInstance.exports;
const mem = policy.mem;

// Data hosts load before evaluating; the module ignores it, but loading must work.
policy.setData({ unused: { by: ["notary/verify"] } });

function cString(addr) {
  const bytes = new Uint8Array(mem.buffer);
  let end = addr;
  while (bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(addr, end));
}

function writeBytes(bytes) {
  const addr = exp.opa_malloc(bytes.length);
  new Uint8Array(mem.buffer).set(bytes, addr);
  return addr;
}

function guarded(f) {
  try {
    return f();
  } catch (e) {
    return { abort: String(e && e.message ? e.message : e) };
  }
}

function resultOf(resultSet) {
  if (!Array.isArray(resultSet) || resultSet.length !== 1 || !("result" in resultSet[0])) {
    return { unexpected_result_set: resultSet };
  }
  return resultSet[0].result;
}

// The ABI 1.0 evaluation-context path, as hosts without opa_eval drive it.
function evalCtx(bytes) {
  exp.opa_heap_ptr_set(policy.dataHeapPtr);
  const raw = writeBytes(bytes);
  const input = exp.opa_json_parse(raw, bytes.length);
  if (input === 0) return { parse_failed: true };
  exp.opa_free(raw);
  const ctx = exp.opa_eval_ctx_new();
  exp.opa_eval_ctx_set_input(ctx, input);
  exp.opa_eval_ctx_set_data(ctx, policy.dataAddr);
  exp.opa_eval_ctx_set_entrypoint(ctx, 0);
  exp.eval(ctx);
  const result = exp.opa_eval_ctx_get_result(ctx);
  return resultOf(JSON.parse(cString(exp.opa_json_dump(result))));
}

// opa_eval with format 1 (Rego value text), the way OPA's own Go SDK calls it.
function evalRego(bytes) {
  const inputAddr = policy.dataHeapPtr;
  const need = inputAddr + bytes.length - mem.buffer.byteLength;
  if (need > 0) mem.grow(Math.ceil(need / 65536));
  new Uint8Array(mem.buffer).set(bytes, inputAddr);
  const out = exp.opa_eval(0, 0, policy.dataAddr, inputAddr, bytes.length, inputAddr + bytes.length, 1);
  return cString(out);
}

function isJson(bytes) {
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}

function evaluateAll() {
  const lines = [];
  for (const path of requestPaths) {
    const bytes = readFileSync(path);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    lines.push({
      name: path,
      fast: guarded(() => resultOf(policy.evaluate(buffer))),
      ctx: isJson(bytes) ? guarded(() => evalCtx(bytes)) : null,
      rego: guarded(() => evalRego(bytes)),
    });
  }
  return lines;
}

for (const line of evaluateAll()) console.log(JSON.stringify(line));

// No input at all: npm passes address 0 and length 0.
console.log(JSON.stringify({ name: "(absent)", fast: guarded(() => resultOf(policy.evaluate(undefined))) }));

// Out of memory: an instance whose memory may not grow past 4 pages, and an input that fits
// there but whose processing does not. The module must abort through opa_abort with a message
// (the SDK throws it), not trap silently.
const small = await loadPolicy(readFileSync(wasmPath), { initial: 2, maximum: 4 });
const tight = new TextEncoder().encode(JSON.stringify({ reference: "r", signatures: [{ envelope: "QUFB".repeat(25000) }] }));
console.log(JSON.stringify({ name: "(oom)", fast: guarded(() => resultOf(small.evaluate(tight.buffer))) }));

// The value exports, through the instance.
// Values live until the next heap reset, so parsing here never resets.
function parseWith(fn, text) {
  const bytes = new TextEncoder().encode(text);
  return exp[fn](writeBytes(bytes), bytes.length);
}
const abi = guarded(() => {
  const dump = (v) => cString(exp.opa_json_dump(v));
  const vdump = (v) => cString(exp.opa_value_dump(v));
  exp.opa_heap_ptr_set(policy.dataHeapPtr);
  const base = parseWith("opa_json_parse", '{"a": {"keep": true}}');
  const path = parseWith("opa_json_parse", '["a", "b", "c"]');
  const value = parseWith("opa_value_parse", "{1, 2, 2}");
  const added = exp.opa_value_add_path(base, path, value);
  const afterAdd = dump(base);
  const afterAddRego = vdump(base);
  const badPath = parseWith("opa_json_parse", "[]");
  const addBad = exp.opa_value_add_path(base, badPath, parseWith("opa_json_parse", "1"));
  const removePath = parseWith("opa_json_parse", '["a", "keep"]');
  const removed = exp.opa_value_remove_path(base, removePath);
  exp.opa_value_free(removePath);
  const withNul = new TextEncoder().encode('{"nul": "terminated"}\0');
  const nulValue = exp.opa_json_parse(writeBytes(withNul), withNul.length);
  const notJson = parseWith("opa_json_parse", "{1, 2}");
  const goQuoted = parseWith("opa_value_parse", '{"s": "\\x41\\u00e9\\a", "e": set()}');
  return {
    entrypoints: dump(exp.entrypoints()),
    builtins: dump(exp.builtins()),
    add_path: added,
    after_add: afterAdd,
    after_add_rego: afterAddRego,
    add_bad_path: addBad,
    remove_path: removed,
    after_remove: dump(base),
    nul_terminated: nulValue === 0 ? null : dump(nulValue),
    json_parse_rejects_sets: notJson === 0,
    go_quoted: goQuoted === 0 ? null : dump(goQuoted),
    go_quoted_rego: goQuoted === 0 ? null : vdump(goQuoted),
  };
});
console.log(JSON.stringify({ name: "(abi)", abi }));

// Stack: the module's stack is [0, __heap_base-ish) at the bottom of memory, zero until used;
// the lowest non-zero byte marks the deepest point reached.
const stackTop = 64 * 1024;
const bytes = new Uint8Array(mem.buffer);
let low = 0;
while (low < stackTop && bytes[low] === 0) low++;
const afterFirstPass = mem.buffer.byteLength;
evaluateAll();
console.log(
  JSON.stringify({
    name: "(memory)",
    stack_used: stackTop - low,
    stack_size: stackTop,
    memory_after_first_pass: afterFirstPass,
    memory_after_second_pass: mem.buffer.byteLength,
  }),
);
