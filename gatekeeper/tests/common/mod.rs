//! Hand-written OPA-ABI modules in WAT for the host's robustness tests: they import `env.memory`
//! and the `env.opa_*` functions and export the ABI globals and functions like a real policy,
//! but each entrypoint does one thing on purpose (echo, loop, trap, abort, hoard memory, …).

#![allow(dead_code)]

/// Entrypoint names of [`module`], in id order.
pub const ENTRYPOINTS: [&str; 9] = [
    "ok",
    "loop",
    "trap",
    "abort",
    "grow",
    "builtin",
    "println",
    "undefined",
    "bad_pointer",
];

/// The message the `abort` entrypoint passes to `opa_abort`.
pub const ABORT_MESSAGE: &str = "policy said no";

/// What the module declares and exports.
#[derive(Clone, Copy)]
pub struct Shape {
    /// `Some((major, minor))`: export the ABI version globals with these values.
    pub version: Option<(i32, i32)>,
    /// Export `opa_eval` (the ABI 1.2 fast path).
    pub opa_eval: bool,
    /// Initial pages of the `env.memory` import.
    pub pages: u32,
    /// An import outside the ABI (`env.surprise`).
    pub extra_import: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            version: Some((1, 3)),
            opa_eval: true,
            pages: 2,
            extra_import: false,
        }
    }
}

/// The module, as WAT text.
pub fn wat(shape: Shape) -> String {
    let entrypoints = ENTRYPOINTS
        .iter()
        .enumerate()
        .map(|(i, n)| format!("\\\"{n}\\\":{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let globals = match shape.version {
        Some((major, minor)) => format!(
            "(global (export \"opa_wasm_abi_version\") i32 (i32.const {major}))\n  \
             (global (export \"opa_wasm_abi_minor_version\") i32 (i32.const {minor}))"
        ),
        None => String::new(),
    };
    let opa_eval = if shape.opa_eval {
        r#"(func (export "opa_eval") (param $reserved i32) (param $ep i32) (param $data i32) (param $in i32) (param $len i32) (param $heap i32) (param $format i32) (result i32)
    (global.set $heap (local.get $heap))
    (call $run (local.get $ep) (local.get $in) (local.get $len)))"#
    } else {
        ""
    };
    let extra = if shape.extra_import {
        r#"(import "env" "surprise" (func (param i32)))"#
    } else {
        ""
    };
    let pages = shape.pages;
    format!(
        r#"(module
  (import "env" "memory" (memory {pages}))
  (import "env" "opa_abort" (func $abort (param i32)))
  (import "env" "opa_println" (func $println (param i32)))
  (import "env" "opa_builtin0" (func $b0 (param i32 i32) (result i32)))
  (import "env" "opa_builtin1" (func $b1 (param i32 i32 i32) (result i32)))
  (import "env" "opa_builtin2" (func $b2 (param i32 i32 i32 i32) (result i32)))
  (import "env" "opa_builtin3" (func $b3 (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "opa_builtin4" (func $b4 (param i32 i32 i32 i32 i32 i32) (result i32)))
  {extra}
  (export "memory" (memory 0))
  {globals}
  ;; A bump allocator above the constants; nothing is ever freed (one evaluation per instance).
  (global $heap (mut i32) (i32.const 0x1000))
  (data (i32.const 0x100) "{{{entrypoints}}}\00")
  (data (i32.const 0x400) "{{\"nv2.custom\":0}}\00")
  (data (i32.const 0x500) "{ABORT_MESSAGE}\00")
  (data (i32.const 0x540) "hello from wasm\00")
  (data (i32.const 0x580) "[{{\"result\":")
  (data (i32.const 0x5a0) "}}]\00")
  (data (i32.const 0x5c0) "opa_malloc: out of memory\00")
  (data (i32.const 0x5e0) "memory.grow failed\00")
  (data (i32.const 0x600) "[]\00")

  (func $malloc (export "opa_malloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (global.set $heap (local.get $end))
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 16)))
                    (i32.const -1))
          (then (call $abort (i32.const 0x5c0)) (unreachable)))))
    (local.get $p))
  (func (export "opa_free") (param i32))
  (func (export "opa_heap_ptr_get") (result i32) (global.get $heap))
  (func (export "opa_heap_ptr_set") (param i32) (global.set $heap (local.get 0)))
  (func $strlen (param $p i32) (result i32)
    (local $q i32)
    (local.set $q (local.get $p))
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $next)))
    (i32.sub (local.get $q) (local.get $p)))
  ;; Values are NUL-terminated JSON texts: parsing copies, dumping is the identity.
  (func (export "opa_json_parse") (param $a i32) (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (call $malloc (i32.add (local.get $n) (i32.const 1))))
    (memory.copy (local.get $p) (local.get $a) (local.get $n))
    (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 0))
    (local.get $p))
  (func (export "opa_json_dump") (param i32) (result i32) (local.get 0))
  (func (export "entrypoints") (result i32) (i32.const 0x100))
  (func (export "builtins") (result i32) (i32.const 0x400))

  ;; `[{{"result": <input>}}]`
  (func $echo (param $in i32) (param $len i32) (result i32)
    (local $out i32)
    (local.set $out (call $malloc (i32.add (local.get $len) (i32.const 14))))
    (memory.copy (local.get $out) (i32.const 0x580) (i32.const 11))
    (memory.copy (i32.add (local.get $out) (i32.const 11)) (local.get $in) (local.get $len))
    (memory.copy (i32.add (i32.add (local.get $out) (i32.const 11)) (local.get $len)) (i32.const 0x5a0) (i32.const 3))
    (local.get $out))

  (func $run (param $ep i32) (param $in i32) (param $len i32) (result i32)
    (block $default
    (block $e8 (block $e7 (block $e6 (block $e5 (block $e4 (block $e3 (block $e2 (block $e1 (block $e0
      (br_table $e0 $e1 $e2 $e3 $e4 $e5 $e6 $e7 $e8 $default (local.get $ep)))
      ;; ok
      (return (call $echo (local.get $in) (local.get $len))))
      ;; loop
      (loop $forever (br $forever)))
      ;; trap
      (unreachable))
      ;; abort
      (call $abort (i32.const 0x500)) (unreachable))
      ;; grow: 1 MiB at a time, for ever
      (loop $more
        (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1))
          (then (call $abort (i32.const 0x5e0)) (unreachable)))
        (br $more)))
      ;; builtin
      (return (call $b1 (i32.const 0) (i32.const 0) (local.get $in))))
      ;; println
      (call $println (i32.const 0x540))
      (return (call $echo (local.get $in) (local.get $len))))
      ;; undefined: an empty result set
      (return (i32.const 0x600)))
      ;; bad_pointer: past the end of memory
      (return (i32.const 0x7ffffff0)))
    (unreachable))

  {opa_eval}

  ;; ABI 1.0: a context of four i32s (input, data, result, entrypoint).
  (func (export "opa_eval_ctx_new") (result i32) (call $malloc (i32.const 16)))
  (func (export "opa_eval_ctx_set_input") (param $c i32) (param $v i32) (i32.store offset=0 (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_data") (param $c i32) (param $v i32) (i32.store offset=4 (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_entrypoint") (param $c i32) (param $v i32) (i32.store offset=12 (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_get_result") (param $c i32) (result i32) (i32.load offset=8 (local.get $c)))
  (func (export "eval") (param $c i32) (result i32)
    (i32.store offset=8 (local.get $c)
      (call $run (i32.load offset=12 (local.get $c)) (i32.load (local.get $c)) (call $strlen (i32.load (local.get $c)))))
    (i32.const 0))
)"#
    )
}

/// The module, compiled from WAT to binary.
pub fn module(shape: Shape) -> Vec<u8> {
    wat::parse_str(wat(shape)).unwrap_or_else(|e| panic!("bad test WAT: {e}"))
}
