//! The OPA WebAssembly ABI 1.3 (OPA's docs/content/wasm.md): the host imports, every exported
//! function, and the panic handler. Addresses cross the boundary as i32 offsets into the shared
//! memory; values are [`Value`]s boxed in the bump heap, strings are NUL-terminated bytes there.
//!
//! The two ABI version globals cannot be written in Rust; `xtask bundle` adds them after linking.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use crate::dump::{to_json, to_rego};
use crate::eval::{builtins, entrypoints, evaluate, Input, ENTRYPOINT_ID};
use crate::heap::{self, BumpHeap};
use crate::parse::{parse, Syntax};
use crate::value::{self, ErrorCode, Value};

#[global_allocator]
static ALLOCATOR: BumpHeap = BumpHeap;

#[link(wasm_import_module = "env")]
extern "C" {
    /// Reports an unrecoverable error (a NUL-terminated message); the host throws, never returns.
    fn opa_abort(message: *const u8);
    /// Prints a NUL-terminated message (Rego's `print`).
    fn opa_println(message: *const u8);
    /// Calls host builtin `id` with 0..4 value arguments; returns a value address.
    fn opa_builtin0(id: i32, ctx: i32) -> i32;
    fn opa_builtin1(id: i32, ctx: i32, a: i32) -> i32;
    fn opa_builtin2(id: i32, ctx: i32, a: i32, b: i32) -> i32;
    fn opa_builtin3(id: i32, ctx: i32, a: i32, b: i32, c: i32) -> i32;
    fn opa_builtin4(id: i32, ctx: i32, a: i32, b: i32, c: i32, d: i32) -> i32;
}

/// The host functions the ABI says a policy module imports. The verifier calls no builtin and
/// prints nothing, so nothing would reference most of them and wasm-ld would drop their
/// imports; this table is kept (`#[used]` marks it no-strip for the linker), which keeps them.
struct HostImports {
    _abort: unsafe extern "C" fn(*const u8),
    _println: unsafe extern "C" fn(*const u8),
    _builtin0: unsafe extern "C" fn(i32, i32) -> i32,
    _builtin1: unsafe extern "C" fn(i32, i32, i32) -> i32,
    _builtin2: unsafe extern "C" fn(i32, i32, i32, i32) -> i32,
    _builtin3: unsafe extern "C" fn(i32, i32, i32, i32, i32) -> i32,
    _builtin4: unsafe extern "C" fn(i32, i32, i32, i32, i32, i32) -> i32,
}

#[used]
static HOST_IMPORTS: HostImports = HostImports {
    _abort: opa_abort,
    _println: opa_println,
    _builtin0: opa_builtin0,
    _builtin1: opa_builtin1,
    _builtin2: opa_builtin2,
    _builtin3: opa_builtin3,
    _builtin4: opa_builtin4,
};

/// A message buffer outside the heap, so that aborting works when the heap cannot grow.
struct AbortBuffer(core::cell::UnsafeCell<[u8; 512]>);
// SAFETY: one thread; the buffer is only written right before the host is told to stop.
unsafe impl Sync for AbortBuffer {}
static ABORT_BUFFER: AbortBuffer = AbortBuffer(core::cell::UnsafeCell::new([0; 512]));

/// Formats into the abort buffer, truncating, always leaving room for the NUL.
struct Truncating<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Stops the evaluation through `opa_abort` with a message.
pub fn abort(message: fmt::Arguments<'_>) -> ! {
    // SAFETY: nothing else holds the buffer: abort does not return, and a panic while formatting
    // cannot reach here again because formatting into a slice does not panic.
    let buf = unsafe { &mut *ABORT_BUFFER.0.get() };
    let mut w = Truncating { buf, len: 0 };
    let _ = w.write_fmt(message);
    let len = w.len;
    buf[len] = 0;
    // SAFETY: a host import taking a NUL-terminated string.
    unsafe { opa_abort(buf.as_ptr()) };
    // A host that returns from opa_abort breaks the ABI; stop here regardless.
    core::arch::wasm32::unreachable()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    abort(format_args!("policy-wasm panicked: {info}"))
}

/// The evaluation context of ABI 1.0's `opa_eval_ctx_*` calls.
#[repr(C)]
pub struct EvalCtx {
    input: *const Value,
    data: *const Value,
    entrypoint: i32,
    result: *const Value,
}

fn leak_value(value: Value) -> *mut Value {
    Box::into_raw(Box::new(value))
}

/// Copies text into the heap with a NUL after it, and returns its address.
fn leak_c_string(mut text: Vec<u8>) -> *const u8 {
    text.push(0);
    let ptr = text.as_ptr();
    core::mem::forget(text);
    ptr
}

/// The value at a host-supplied address (hosts only pass addresses this module returned).
fn value_at<'a>(addr: *const Value, what: &str) -> &'a Value {
    if addr.is_null() {
        abort(format_args!("{what}: null value address"));
    }
    // SAFETY: the ABI contract: the address came from opa_json_parse/opa_value_parse/eval.
    unsafe { &*addr }
}

fn check_entrypoint(id: i32) {
    if id != ENTRYPOINT_ID {
        abort(format_args!(
            "invalid entrypoint id {id}: the only entrypoint is 0 (notary/verify)"
        ));
    }
}

/// ABI 1.0 `eval`: evaluates the context's entrypoint and stores the result set in it.
#[no_mangle]
pub extern "C" fn eval(ctx: *mut EvalCtx) -> i32 {
    if ctx.is_null() {
        abort(format_args!("eval: null context"));
    }
    // SAFETY: the address came from opa_eval_ctx_new.
    let ctx = unsafe { &mut *ctx };
    check_entrypoint(ctx.entrypoint);
    // `data` is ignored on purpose: the verifier sees only its input (OPA refuses a wasm
    // resolver under `with data…` anyway).
    let input = if ctx.input.is_null() {
        Input::Absent
    } else {
        Input::Value(value_at(ctx.input, "eval"))
    };
    ctx.result = leak_value(evaluate(input));
    0
}

/// ABI 1.0 `builtins`: `{}`.
#[export_name = "builtins"]
pub extern "C" fn builtins_export() -> *const Value {
    leak_value(builtins())
}

/// ABI 1.0 `entrypoints`: `{"notary/verify": 0}`.
#[export_name = "entrypoints"]
pub extern "C" fn entrypoints_export() -> *const Value {
    leak_value(entrypoints())
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_new() -> *mut EvalCtx {
    Box::into_raw(Box::new(EvalCtx {
        input: core::ptr::null(),
        data: core::ptr::null(),
        entrypoint: ENTRYPOINT_ID,
        result: core::ptr::null(),
    }))
}

fn ctx_at<'a>(ctx: *mut EvalCtx, what: &str) -> &'a mut EvalCtx {
    if ctx.is_null() {
        abort(format_args!("{what}: null context"));
    }
    // SAFETY: the address came from opa_eval_ctx_new.
    unsafe { &mut *ctx }
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_set_input(ctx: *mut EvalCtx, input: *const Value) {
    ctx_at(ctx, "opa_eval_ctx_set_input").input = input;
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_set_data(ctx: *mut EvalCtx, data: *const Value) {
    ctx_at(ctx, "opa_eval_ctx_set_data").data = data;
}

#[no_mangle]
pub extern "C" fn opa_eval_ctx_set_entrypoint(ctx: *mut EvalCtx, entrypoint: i32) {
    ctx_at(ctx, "opa_eval_ctx_set_entrypoint").entrypoint = entrypoint;
}

/// The result set of the last `eval` on the context (an empty set before any).
#[no_mangle]
pub extern "C" fn opa_eval_ctx_get_result(ctx: *mut EvalCtx) -> *const Value {
    let ctx = ctx_at(ctx, "opa_eval_ctx_get_result");
    if ctx.result.is_null() {
        ctx.result = leak_value(Value::Set(Vec::new()));
    }
    ctx.result
}

#[no_mangle]
pub extern "C" fn opa_malloc(size: usize) -> *mut u8 {
    heap::allocate(size, 8)
}

/// Frees a block from `opa_malloc`. Without a free list there is nothing to do: the block goes
/// back with the host's next `opa_heap_ptr_set` (the ABI lets hosts skip frees for that reason).
#[no_mangle]
pub extern "C" fn opa_free(_ptr: *mut u8) {}

/// Parses `len` bytes of JSON at `text`; returns the value's address, or 0 when it is not JSON.
#[no_mangle]
pub extern "C" fn opa_json_parse(text: *const u8, len: usize) -> *mut Value {
    parse_export(text, len, Syntax::Json)
}

/// Like `opa_json_parse`, for Rego value text (sets, non-string keys, Go string escapes).
#[no_mangle]
pub extern "C" fn opa_value_parse(text: *const u8, len: usize) -> *mut Value {
    parse_export(text, len, Syntax::Rego)
}

fn parse_export(text: *const u8, len: usize, syntax: Syntax) -> *mut Value {
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the host wrote `len` bytes at `text` (memory it got from opa_malloc).
        unsafe { core::slice::from_raw_parts(text, len) }
    };
    match parse(bytes, syntax) {
        Ok(parsed) => leak_value(parsed.value),
        Err(_) => core::ptr::null_mut(),
    }
}

#[no_mangle]
pub extern "C" fn opa_json_dump(value: *const Value) -> *const u8 {
    leak_c_string(to_json(value_at(value, "opa_json_dump")))
}

#[no_mangle]
pub extern "C" fn opa_value_dump(value: *const Value) -> *const u8 {
    leak_c_string(to_rego(value_at(value, "opa_value_dump")))
}

#[no_mangle]
pub extern "C" fn opa_heap_ptr_get() -> usize {
    heap::heap_ptr()
}

#[no_mangle]
pub extern "C" fn opa_heap_ptr_set(ptr: usize) {
    heap::set_heap_ptr(ptr)
}

/// Sets `value` at `path` inside the object `base` (hosts patch `data` this way). On success the
/// base owns the value; on error the base is unchanged.
#[no_mangle]
pub extern "C" fn opa_value_add_path(
    base: *mut Value,
    path: *const Value,
    value: *mut Value,
) -> i32 {
    if base.is_null() || value.is_null() {
        return ErrorCode::InvalidType as i32;
    }
    if path.is_null() {
        return ErrorCode::InvalidPath as i32;
    }
    // SAFETY: addresses of values this module returned.
    let (base, path) = unsafe { (&mut *base, &*path) };
    // Only on success does the value move into the base (its box stays behind in the bump
    // heap, unused); on error the host still owns it intact.
    // SAFETY: the host hands the value over, and frees nothing that opa_value_free would drop.
    value::add_path(base, path, || unsafe { core::ptr::read(value) }) as i32
}

#[no_mangle]
pub extern "C" fn opa_value_remove_path(base: *mut Value, path: *const Value) -> i32 {
    if base.is_null() {
        return ErrorCode::InvalidType as i32;
    }
    if path.is_null() {
        return ErrorCode::InvalidPath as i32;
    }
    // SAFETY: addresses of values this module returned.
    let (base, path) = unsafe { (&mut *base, &*path) };
    value::remove_path(base, path) as i32
}

/// ABI 1.3: frees a value. Its memory returns with the next heap reset (see [`opa_free`]); it is
/// not dropped here, because hosts free values they already reset the heap under.
#[no_mangle]
pub extern "C" fn opa_value_free(_value: *mut Value) {}

/// ABI 1.2 one-shot evaluation: heap at `heap_ptr`, input text at (`input`, `input_len`),
/// result set serialized as JSON (format 0) or Rego value text (format 1), NUL-terminated.
#[no_mangle]
pub extern "C" fn opa_eval(
    _reserved: i32,
    entrypoint: i32,
    _data: *const Value,
    input: *const u8,
    input_len: usize,
    heap_ptr: usize,
    format: i32,
) -> *const u8 {
    heap::set_heap_ptr(heap_ptr);
    check_entrypoint(entrypoint);
    let input = if input.is_null() || input_len == 0 {
        Input::Absent
    } else {
        // SAFETY: the host wrote `input_len` bytes at `input`, below `heap_ptr`.
        Input::Text(unsafe { core::slice::from_raw_parts(input, input_len) })
    };
    let result = evaluate(input);
    let text = match format {
        1 => to_rego(&result),
        _ => to_json(&result),
    };
    leak_c_string(text)
}

/// ABI 1.3: moves free blocks aside before the host resets the heap. A bump heap has no free
/// blocks, so there is nothing to stash, restore or clear.
#[no_mangle]
pub extern "C" fn opa_heap_blocks_stash() {}

#[no_mangle]
pub extern "C" fn opa_heap_blocks_restore() {}

#[no_mangle]
pub extern "C" fn opa_heap_stash_clear() {}
