//! The wasmtime host for OPA WebAssembly modules: compile once, a fresh bounded store per call.
//!
//! ```text
//! PolicyModule::load(policy.wasm)
//!   compile (cranelift) → check imports (env.memory, env.opa_*) → scratch instance:
//!   ABI globals (1.x), exports and their types, entrypoints() and builtins() via opa_json_dump
//! PolicyModule::evaluate(entrypoint, input)            (each call, nothing shared but code)
//!   Store (fuel + memory budget) → Memory with the import's limits → Instance
//!   data: opa_malloc + write + opa_json_parse
//!   ABI ≥ 1.2: input written at the heap pointer, opa_eval(0, ep, data, in, len, heap, 0)
//!   ABI 1.0/1.1: opa_json_parse(input), opa_eval_ctx_*, eval, opa_json_dump(result)
//!   → JSON `[{"result": …}]` → the value of `result`
//! ```
//!
//! The host functions mirror OPA's own loaders (`npm-opa-wasm`, OPA's Go SDK): `opa_abort` ends
//! the call with its message, `opa_println` logs, and `opa_builtin0..4` end the call with
//! "unknown builtin", since our policy calls none.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use wasmtime::{
    Caller, Config, Engine, ExternType, Instance, Linker, Memory, MemoryType, Module, Mutability,
    Store, Trap, TypedFunc, ValType, WasmParams, WasmResults,
};

use crate::error::HostError;
use crate::options::{Budget, HostOptions, MemoryRefused, EPOCH_TICK};

const PAGE: u64 = 64 * 1024;

/// Longest `opa_abort`/`opa_println` message kept; a hostile module should not fill the logs.
const MAX_MESSAGE: usize = 64 * 1024;

/// The OPA wasm ABI version a module declares in its exported globals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbiVersion {
    pub major: i32,
    pub minor: i32,
}

impl AbiVersion {
    /// `opa_eval` (one call per evaluation) exists from ABI 1.2 on.
    pub fn has_opa_eval(self) -> bool {
        self.major == 1 && self.minor >= 2
    }
}

impl std::fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Per-store state the host functions see.
pub(crate) struct HostState {
    budget: Budget,
    memory: Option<Memory>,
    builtins: Arc<BTreeMap<i32, String>>,
}

/// Raised by the host functions; recognised again when the call returns.
#[derive(Debug)]
enum HostStop {
    Abort(String),
    UnknownBuiltin { id: i32, name: Option<String> },
}

impl std::fmt::Display for HostStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostStop::Abort(m) => write!(f, "opa_abort: {m}"),
            HostStop::UnknownBuiltin { id, name } => write!(f, "unknown builtin {id} ({name:?})"),
        }
    }
}

impl std::error::Error for HostStop {}

/// One engine per process: its settings never change (fuel and epochs on), and sharing it lets
/// modules loaded later reuse its type registry and compiler state. Its epoch advances every
/// [`EPOCH_TICK`] on a thread of its own, which is what wall-clock deadlines count.
fn engine() -> Result<Engine, HostError> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.consume_fuel(true);
            config.epoch_interruption(true);
            config.cranelift_opt_level(wasmtime::OptLevel::Speed);
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let ticking = engine.clone();
            std::thread::Builder::new()
                .name("nv2-wasm-epoch".into())
                .spawn(move || loop {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
            Ok(engine)
        })
        .clone()
        .map_err(HostError::Engine)
}

/// A compiled OPA policy module, ready to evaluate any number of times, from any thread.
///
/// ```no_run
/// use gatekeeper::PolicyModule;
/// use serde_json::json;
///
/// let module = PolicyModule::load("dist/bundle/policy.wasm")?;
/// assert!(module.entrypoints().contains_key("notary/verify"));
/// let report = module.evaluate("notary/verify", &json!({"reference": "…"}))?;
/// # Ok::<(), gatekeeper::HostError>(())
/// ```
pub struct PolicyModule {
    engine: Engine,
    module: Module,
    linker: Linker<HostState>,
    memory_type: MemoryType,
    abi: AbiVersion,
    fast_path: bool,
    entrypoints: BTreeMap<String, i32>,
    builtins: BTreeMap<String, i32>,
    builtin_names: Arc<BTreeMap<i32, String>>,
    options: HostOptions,
}

// A server shares one module between its request handlers.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<PolicyModule>();
};

impl std::fmt::Debug for PolicyModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyModule")
            .field("abi", &self.abi)
            .field("fast_path", &self.fast_path)
            .field("entrypoints", &self.entrypoints)
            .field("builtins", &self.builtins)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HostOptions {
    /// Reads and loads the module at `path` with these options.
    pub fn load(self, path: impl AsRef<Path>) -> Result<PolicyModule, HostError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| HostError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.from_bytes(&bytes)
    }

    /// Loads a module from its bytes (binary wasm) with these options.
    pub fn from_bytes(self, bytes: &[u8]) -> Result<PolicyModule, HostError> {
        PolicyModule::compile(bytes, self)
    }
}

impl PolicyModule {
    /// Reads, compiles and checks the module at `path`, with the default [`HostOptions`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, HostError> {
        HostOptions::default().load(path)
    }

    /// Compiles and checks a module from its bytes, with the default [`HostOptions`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HostError> {
        HostOptions::default().from_bytes(bytes)
    }

    fn compile(bytes: &[u8], options: HostOptions) -> Result<Self, HostError> {
        let engine = engine()?;
        let module =
            Module::new(&engine, bytes).map_err(|e| HostError::Compile(format!("{e:#}")))?;
        let memory_type = check_imports(&module)?;
        let linker = linker(&engine)?;
        let mut this = PolicyModule {
            engine,
            module,
            linker,
            memory_type,
            abi: AbiVersion { major: 0, minor: 0 },
            fast_path: false,
            entrypoints: BTreeMap::new(),
            builtins: BTreeMap::new(),
            builtin_names: Arc::new(BTreeMap::new()),
            options,
        };
        this.inspect()?;
        Ok(this)
    }

    /// Reads what a loader needs from a scratch instance (itself under the same budget as an
    /// evaluation): the ABI version, the exports, the entrypoint and builtin tables.
    fn inspect(&mut self) -> Result<(), HostError> {
        let mut session = self.instantiate()?;
        let major = session.abi_global("opa_wasm_abi_version")?;
        let minor = session.abi_global("opa_wasm_abi_minor_version")?;
        let abi = AbiVersion { major, minor };
        if major != 1 {
            return Err(HostError::UnsupportedAbi { major, minor });
        }
        let exports = session.exports()?;
        let fast_path = abi.has_opa_eval() && exports.opa_eval.is_some();
        if !fast_path {
            session.v1_exports()?;
        }
        let entrypoints = session.json_table(exports.entrypoints, "entrypoints")?;
        let builtins = session.json_table(exports.builtins, "builtins")?;
        tracing::debug!(%abi, fast_path, ?entrypoints, ?builtins, "loaded OPA policy module");
        self.abi = abi;
        self.fast_path = fast_path;
        self.builtin_names = Arc::new(builtins.iter().map(|(k, v)| (*v, k.clone())).collect());
        self.entrypoints = entrypoints;
        self.builtins = builtins;
        Ok(())
    }

    /// The ABI version the module declares.
    pub fn abi_version(&self) -> AbiVersion {
        self.abi
    }

    /// Whether evaluations use `opa_eval` (ABI 1.2+) rather than the 1.0 call sequence.
    pub fn uses_opa_eval(&self) -> bool {
        self.fast_path
    }

    /// The module's entrypoints, name → id (`entrypoints()` of the ABI).
    pub fn entrypoints(&self) -> &BTreeMap<String, i32> {
        &self.entrypoints
    }

    /// The builtins the module may call, name → id (`builtins()` of the ABI).
    pub fn builtins(&self) -> &BTreeMap<String, i32> {
        &self.builtins
    }

    /// The options every evaluation runs under.
    pub fn options(&self) -> &HostOptions {
        &self.options
    }

    /// A fresh instance in its own bounded store, for one evaluation. [`PolicyModule::evaluate`]
    /// does this for you; it is public so that the cost of instantiation can be measured apart.
    pub fn instantiate(&self) -> Result<Session<'_>, HostError> {
        let state = HostState {
            budget: Budget::new(self.options.memory_limit),
            memory: None,
            builtins: self.builtin_names.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.budget);
        store
            .set_fuel(self.options.fuel)
            .map_err(|e| HostError::Runtime(format!("{e:#}")))?;
        match self.options.deadline_ticks() {
            Some(ticks) => {
                store.set_epoch_deadline(ticks);
                store.epoch_deadline_trap();
            }
            None => store.set_epoch_deadline(u64::MAX),
        }
        // Not an `InstancePre`: it can only hold imports that belong to no store, and the
        // `env.memory` import must be a memory of this very store. The host functions come from
        // the shared linker (engine-level, no per-call compilation or allocation of code); only
        // the memory is new, with exactly the limits the module declares, as OPA requires.
        let result = (|| -> wasmtime::Result<(Memory, Instance)> {
            let memory = Memory::new(&mut store, self.memory_type.clone())?;
            store.data_mut().memory = Some(memory);
            let mut imports = Vec::with_capacity(8);
            for import in self.module.imports() {
                let item = match import.ty() {
                    ExternType::Memory(_) => memory.into(),
                    _ => self
                        .linker
                        .get(&mut store, import.module(), import.name())?,
                };
                imports.push(item);
            }
            let instance = Instance::new(&mut store, &self.module, &imports)?;
            Ok((memory, instance))
        })();
        match result {
            Ok((memory, instance)) => Ok(Session {
                module: self,
                store,
                memory,
                instance,
            }),
            Err(e) => Err(classify(e, &store, &self.options)),
        }
    }

    /// Evaluates `entrypoint` with `input` and returns its `result`, on a fresh instance.
    pub fn evaluate(&self, entrypoint: &str, input: &Value) -> Result<Value, HostError> {
        let input = serde_json::to_vec(input).expect("a serde_json::Value always serialises");
        self.evaluate_json(entrypoint, &input)
    }

    /// [`PolicyModule::evaluate`] with the input as JSON text, handed to the module as is.
    pub fn evaluate_json(&self, entrypoint: &str, input: &[u8]) -> Result<Value, HostError> {
        self.instantiate()?.evaluate_json(entrypoint, input)
    }

    fn entrypoint_id(&self, name: &str) -> Result<i32, HostError> {
        self.entrypoints
            .get(name)
            .copied()
            .ok_or_else(|| HostError::UnknownEntrypoint {
                name: name.to_owned(),
                known: self.entrypoints.keys().cloned().collect(),
            })
    }
}

/// The memory type the module imports, after refusing any import outside the ABI.
fn check_imports(module: &Module) -> Result<MemoryType, HostError> {
    let mut memory = None;
    for import in module.imports() {
        let known = import.module() == "env"
            && match import.ty() {
                ExternType::Memory(ty) if import.name() == "memory" => {
                    memory = Some(ty);
                    true
                }
                ExternType::Func(_) => matches!(
                    import.name(),
                    "opa_abort"
                        | "opa_println"
                        | "opa_builtin0"
                        | "opa_builtin1"
                        | "opa_builtin2"
                        | "opa_builtin3"
                        | "opa_builtin4"
                ),
                _ => false,
            };
        if !known {
            return Err(HostError::UnknownImport {
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
    }
    memory.ok_or(HostError::MissingMemoryImport)
}

/// The host functions of the ABI. They belong to no store, so one linker serves every call.
fn linker(engine: &Engine) -> Result<Linker<HostState>, HostError> {
    fn unknown_builtin(caller: &Caller<'_, HostState>, id: i32) -> wasmtime::Error {
        let name = caller.data().builtins.get(&id).cloned();
        wasmtime::Error::new(HostStop::UnknownBuiltin { id, name })
    }
    let mut linker = Linker::new(engine);
    let defined = (|| -> wasmtime::Result<()> {
        linker.func_wrap(
            "env",
            "opa_abort",
            |caller: Caller<'_, HostState>, addr: i32| -> wasmtime::Result<()> {
                Err(wasmtime::Error::new(HostStop::Abort(message(
                    &caller, addr,
                ))))
            },
        )?;
        linker.func_wrap(
            "env",
            "opa_println",
            |caller: Caller<'_, HostState>, addr: i32| {
                tracing::info!(target: "opa", "{}", message(&caller, addr));
            },
        )?;
        linker.func_wrap(
            "env",
            "opa_builtin0",
            |caller: Caller<'_, HostState>, id: i32, _ctx: i32| -> wasmtime::Result<i32> {
                Err(unknown_builtin(&caller, id))
            },
        )?;
        linker.func_wrap(
            "env",
            "opa_builtin1",
            |caller: Caller<'_, HostState>, id: i32, _ctx: i32, _a: i32| -> wasmtime::Result<i32> {
                Err(unknown_builtin(&caller, id))
            },
        )?;
        linker.func_wrap(
            "env",
            "opa_builtin2",
            |caller: Caller<'_, HostState>,
             id: i32,
             _ctx: i32,
             _a: i32,
             _b: i32|
             -> wasmtime::Result<i32> { Err(unknown_builtin(&caller, id)) },
        )?;
        linker.func_wrap(
            "env",
            "opa_builtin3",
            |caller: Caller<'_, HostState>,
             id: i32,
             _ctx: i32,
             _a: i32,
             _b: i32,
             _c: i32|
             -> wasmtime::Result<i32> { Err(unknown_builtin(&caller, id)) },
        )?;
        linker.func_wrap(
            "env",
            "opa_builtin4",
            |caller: Caller<'_, HostState>,
             id: i32,
             _ctx: i32,
             _a: i32,
             _b: i32,
             _c: i32,
             _d: i32|
             -> wasmtime::Result<i32> { Err(unknown_builtin(&caller, id)) },
        )?;
        Ok(())
    })();
    defined.map_err(|e| HostError::Runtime(format!("{e:#}")))?;
    Ok(linker)
}

/// A NUL-terminated message from the module's memory, lossily decoded and capped.
fn message(caller: &Caller<'_, HostState>, addr: i32) -> String {
    let Some(memory) = caller.data().memory else {
        return String::from("<no memory>");
    };
    let data = memory.data(caller);
    let start = addr as u32 as usize;
    let Some(tail) = data.get(start..) else {
        return format!("<message address {addr:#x} out of bounds>");
    };
    let tail = &tail[..tail.len().min(MAX_MESSAGE)];
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

/// Names the cause of a failed call: our own stops first, then wasmtime's traps.
fn classify(error: wasmtime::Error, store: &Store<HostState>, options: &HostOptions) -> HostError {
    if let Some(stop) = error.downcast_ref::<HostStop>() {
        return match stop {
            HostStop::Abort(m) => HostError::Abort(m.clone()),
            HostStop::UnknownBuiltin { id, name } => HostError::UnknownBuiltin {
                id: *id,
                name: name.clone(),
            },
        };
    }
    let budget = &store.data().budget;
    if let Some(refused) = error.downcast_ref::<MemoryRefused>() {
        return HostError::MemoryLimit {
            limit: budget.memory_limit,
            requested: refused.requested,
        };
    }
    if let Some(requested) = budget.refused {
        return HostError::MemoryLimit {
            limit: budget.memory_limit,
            requested,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => HostError::OutOfFuel {
            limit: options.fuel,
        },
        Some(Trap::Interrupt) => HostError::Timeout {
            limit: options.deadline.unwrap_or_default(),
        },
        Some(trap) => HostError::Trap(trap.to_string()),
        None => HostError::Runtime(format!("{error:#}")),
    }
}

/// `opa_eval(reserved, entrypoint, data, input, input_len, heap_ptr, format) -> result`.
type OpaEval = TypedFunc<(i32, i32, i32, i32, i32, i32, i32), i32>;

/// The ABI exports every evaluation needs.
struct Exports {
    entrypoints: TypedFunc<(), i32>,
    builtins: TypedFunc<(), i32>,
    opa_eval: Option<OpaEval>,
}

/// The ABI 1.0 exports of the context-based call sequence.
struct V1Exports {
    ctx_new: TypedFunc<(), i32>,
    set_input: TypedFunc<(i32, i32), ()>,
    set_data: TypedFunc<(i32, i32), ()>,
    set_entrypoint: TypedFunc<(i32, i32), ()>,
    eval: TypedFunc<i32, i32>,
    get_result: TypedFunc<i32, i32>,
}

/// One instance in its own store, good for one evaluation (see [`PolicyModule::instantiate`]).
pub struct Session<'m> {
    module: &'m PolicyModule,
    store: Store<HostState>,
    memory: Memory,
    instance: Instance,
}

impl Session<'_> {
    /// Evaluates `entrypoint` with `input` (JSON text) and returns its `result`. The session
    /// is spent afterwards: a store never serves two evaluations.
    pub fn evaluate_json(self, entrypoint: &str, input: &[u8]) -> Result<Value, HostError> {
        self.evaluate_inner(entrypoint, input, None)
    }

    fn evaluate_inner(
        mut self,
        entrypoint: &str,
        input: &[u8],
        fuel_left: Option<&std::cell::Cell<u64>>,
    ) -> Result<Value, HostError> {
        let id = self.module.entrypoint_id(entrypoint)?;
        let text = if self.module.fast_path {
            self.eval_fast(id, input)
        } else {
            self.eval_v1(id, input)
        };
        if let Some(left) = fuel_left {
            left.set(self.store.get_fuel().unwrap_or(0));
        }
        let text = text?;
        let results: Value = serde_json::from_slice(&text).map_err(|e| HostError::BadOutput {
            what: "result set",
            reason: e.to_string(),
        })?;
        let Value::Array(mut results) = results else {
            return Err(HostError::BadOutput {
                what: "result set",
                reason: format!("not an array: {results}"),
            });
        };
        if results.is_empty() {
            return Err(HostError::Undefined {
                entrypoint: entrypoint.to_owned(),
            });
        }
        match results.swap_remove(0) {
            Value::Object(mut binding) => {
                binding
                    .remove("result")
                    .ok_or_else(|| HostError::BadOutput {
                        what: "result set",
                        reason: "a binding without `result`".into(),
                    })
            }
            other => Err(HostError::BadOutput {
                what: "result set",
                reason: format!("a binding that is not an object: {other}"),
            }),
        }
    }

    /// [`Session::evaluate_json`], also returning the fuel the evaluation burnt (to size budgets).
    pub fn evaluate_metered(
        self,
        entrypoint: &str,
        input: &[u8],
    ) -> (Result<Value, HostError>, u64) {
        let budget = self.module.options.fuel;
        let left = std::cell::Cell::new(budget);
        let result = self.evaluate_inner(entrypoint, input, Some(&left));
        (result, budget - left.get())
    }

    /// ABI ≥ 1.2: one `opa_eval` call, input written by the host just above the heap.
    fn eval_fast(&mut self, entrypoint: i32, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let opa_eval = self
            .exports()?
            .opa_eval
            .expect("fast path only when opa_eval exists");
        let module = self.module;
        let data = self.load_json(&module.options.data, "data")?;
        let heap_get = self.func::<(), i32>("opa_heap_ptr_get")?;
        let input_addr = self.call(&heap_get, ())? as u32 as u64;
        let input_len = input.len() as u64;
        self.ensure_memory(input_addr + input_len)?;
        self.memory
            .write(&mut self.store, input_addr as usize, input)
            .map_err(|_| HostError::BadPointer {
                what: "heap",
                addr: input_addr as u32,
            })?;
        let heap = (input_addr + input_len) as i32;
        let result = self.call(
            &opa_eval,
            (
                0,
                entrypoint,
                data,
                input_addr as i32,
                input_len as i32,
                heap,
                0,
            ),
        )?;
        self.c_string(result, "result")
    }

    /// ABI 1.0: parse input and data into values, set up a context, `eval`, dump the result.
    fn eval_v1(&mut self, entrypoint: i32, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let v1 = self.v1_exports()?;
        let module = self.module;
        let data = self.load_json(&module.options.data, "data")?;
        let input = self.load_json(input, "input")?;
        let ctx = self.call(&v1.ctx_new, ())?;
        self.call(&v1.set_input, (ctx, input))?;
        self.call(&v1.set_data, (ctx, data))?;
        self.call(&v1.set_entrypoint, (ctx, entrypoint))?;
        let code = self.call(&v1.eval, ctx)?;
        if code != 0 {
            return Err(HostError::EvalFailed { code });
        }
        let result = self.call(&v1.get_result, ctx)?;
        self.dump(result, "result")
    }

    /// `opa_malloc` + write + `opa_json_parse`: the address of the parsed value.
    fn load_json(&mut self, json: &[u8], what: &'static str) -> Result<i32, HostError> {
        let malloc = self.func::<i32, i32>("opa_malloc")?;
        let parse = self.func::<(i32, i32), i32>("opa_json_parse")?;
        let len = i32::try_from(json.len()).map_err(|_| HostError::JsonRejected { what })?;
        let addr = self.call(&malloc, len)?;
        self.memory
            .write(&mut self.store, addr as u32 as usize, json)
            .map_err(|_| HostError::BadPointer {
                what: "opa_malloc",
                addr: addr as u32,
            })?;
        match self.call(&parse, (addr, len))? {
            0 => Err(HostError::JsonRejected { what }),
            value => Ok(value),
        }
    }

    /// `opa_json_dump` of a value: its JSON text.
    fn dump(&mut self, value: i32, what: &'static str) -> Result<Vec<u8>, HostError> {
        let dump = self.func::<i32, i32>("opa_json_dump")?;
        let text = self.call(&dump, value)?;
        self.c_string(text, what)
    }

    /// A name → id table the module returns as a JSON object (`entrypoints()`, `builtins()`).
    fn json_table(
        &mut self,
        func: TypedFunc<(), i32>,
        what: &'static str,
    ) -> Result<BTreeMap<String, i32>, HostError> {
        let value = self.call(&func, ())?;
        let text = self.dump(value, what)?;
        let bad = |reason: String| HostError::BadOutput { what, reason };
        let Value::Object(map) = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?
        else {
            return Err(bad("not a JSON object".into()));
        };
        map.into_iter()
            .map(
                |(k, v)| match v.as_i64().and_then(|n| i32::try_from(n).ok()) {
                    Some(id) => Ok((k, id)),
                    None => Err(bad(format!("`{k}` maps to {v}, not an i32 id"))),
                },
            )
            .collect()
    }

    /// Grows the memory (under the budget) so that `end` bytes are addressable.
    fn ensure_memory(&mut self, end: u64) -> Result<(), HostError> {
        let size = self.memory.data_size(&self.store) as u64;
        if end > size {
            let pages = (end - size).div_ceil(PAGE);
            self.memory
                .grow(&mut self.store, pages)
                .map_err(|e| classify(e, &self.store, &self.module.options))?;
        }
        Ok(())
    }

    /// The bytes of a NUL-terminated string at `addr`, which must end inside the memory.
    fn c_string(&self, addr: i32, what: &'static str) -> Result<Vec<u8>, HostError> {
        let bad = || HostError::BadPointer {
            what,
            addr: addr as u32,
        };
        let data = self.memory.data(&self.store);
        let tail = data
            .get(addr as u32 as usize..)
            .filter(|_| addr != 0)
            .ok_or_else(bad)?;
        let end = tail.iter().position(|&b| b == 0).ok_or_else(bad)?;
        Ok(tail[..end].to_vec())
    }

    fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
    ) -> Result<R, HostError> {
        func.call(&mut self.store, params)
            .map_err(|e| classify(e, &self.store, &self.module.options))
    }

    fn func<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &'static str,
    ) -> Result<TypedFunc<P, R>, HostError> {
        let func = self
            .instance
            .get_func(&mut self.store, name)
            .ok_or(HostError::MissingExport { name })?;
        func.typed::<P, R>(&self.store)
            .map_err(|e| HostError::ExportType {
                name,
                reason: format!("{e:#}"),
            })
    }

    fn abi_global(&mut self, name: &'static str) -> Result<i32, HostError> {
        let global = self
            .instance
            .get_global(&mut self.store, name)
            .ok_or(HostError::MissingAbiGlobal { name })?;
        let ty = global.ty(&self.store);
        if !matches!(ty.content(), ValType::I32) || ty.mutability() != Mutability::Const {
            return Err(HostError::ExportType {
                name,
                reason: "not an immutable i32 global".into(),
            });
        }
        global
            .get(&mut self.store)
            .i32()
            .ok_or(HostError::MissingAbiGlobal { name })
    }

    fn exports(&mut self) -> Result<Exports, HostError> {
        for name in ["opa_malloc", "opa_json_dump"] {
            self.func::<i32, i32>(name)?;
        }
        self.func::<(i32, i32), i32>("opa_json_parse")?;
        self.func::<(), i32>("opa_heap_ptr_get")?;
        let opa_eval = match self.instance.get_func(&mut self.store, "opa_eval") {
            Some(_) => Some(self.func("opa_eval")?),
            None => None,
        };
        Ok(Exports {
            entrypoints: self.func("entrypoints")?,
            builtins: self.func("builtins")?,
            opa_eval,
        })
    }

    fn v1_exports(&mut self) -> Result<V1Exports, HostError> {
        Ok(V1Exports {
            ctx_new: self.func("opa_eval_ctx_new")?,
            set_input: self.func("opa_eval_ctx_set_input")?,
            set_data: self.func("opa_eval_ctx_set_data")?,
            set_entrypoint: self.func("opa_eval_ctx_set_entrypoint")?,
            eval: self.func("eval")?,
            get_result: self.func("opa_eval_ctx_get_result")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(wat: &str) -> Module {
        Module::new(&engine().unwrap(), wat::parse_str(wat).unwrap()).unwrap()
    }

    #[test]
    fn imports_outside_the_abi_are_named() {
        for (wat, module, name) in [
            (
                r#"(module (import "env" "memory" (memory 1)) (import "env" "opa_sleep" (func)))"#,
                "env",
                "opa_sleep",
            ),
            (
                r#"(module (import "wasi" "memory" (memory 1)))"#,
                "wasi",
                "memory",
            ),
            (
                r#"(module (import "env" "memory" (memory 1)) (import "env" "table" (table 1 funcref)))"#,
                "env",
                "table",
            ),
            (
                r#"(module (import "env" "opa_abort" (global i32)))"#,
                "env",
                "opa_abort",
            ),
        ] {
            match check_imports(&compile(wat)) {
                Err(HostError::UnknownImport { module: m, name: n }) => {
                    assert_eq!((m.as_str(), n.as_str()), (module, name))
                }
                other => panic!("{wat}: expected UnknownImport, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_memory_import_type_is_kept() {
        let ty = check_imports(&compile(r#"(module (import "env" "memory" (memory 2 9)) (import "env" "opa_println" (func (param i32))))"#))
            .unwrap();
        assert_eq!((ty.minimum(), ty.maximum()), (2, Some(9)));
        assert!(matches!(
            check_imports(&compile("(module)")),
            Err(HostError::MissingMemoryImport)
        ));
    }

    #[test]
    fn failures_are_classified_by_cause() {
        let engine = engine().unwrap();
        let state = || HostState {
            budget: Budget::new(1 << 20),
            memory: None,
            builtins: Arc::default(),
        };
        let options = HostOptions::new()
            .fuel(7)
            .deadline(Some(std::time::Duration::from_millis(30)));
        let store = Store::new(&engine, state());
        let abort = classify(
            wasmtime::Error::new(HostStop::Abort("no".into())),
            &store,
            &options,
        );
        assert!(matches!(abort, HostError::Abort(m) if m == "no"));
        let builtin = classify(
            wasmtime::Error::new(HostStop::UnknownBuiltin {
                id: 3,
                name: Some("x.y".into()),
            }),
            &store,
            &options,
        );
        assert!(
            matches!(builtin, HostError::UnknownBuiltin { id: 3, name: Some(n) } if n == "x.y")
        );
        assert!(matches!(
            classify(wasmtime::Error::new(Trap::OutOfFuel), &store, &options),
            HostError::OutOfFuel { limit: 7 }
        ));
        let timeout = classify(wasmtime::Error::new(Trap::Interrupt), &store, &options);
        assert!(matches!(timeout, HostError::Timeout { limit } if limit.as_millis() == 30));
        assert!(
            matches!(classify(wasmtime::Error::new(Trap::StackOverflow), &store, &options), HostError::Trap(m) if m.contains("stack"))
        );
        let memory = classify(
            wasmtime::Error::new(MemoryRefused { requested: 2 << 20 }),
            &store,
            &options,
        );
        assert!(matches!(
            memory,
            HostError::MemoryLimit {
                limit: 1_048_576,
                requested: 2_097_152
            }
        ));
        assert!(
            matches!(classify(wasmtime::format_err!("odd"), &store, &options), HostError::Runtime(m) if m == "odd")
        );

        // A refusal the module saw first (and then trapped over) still counts as the memory limit.
        let mut store = Store::new(&engine, state());
        store.data_mut().budget.refused = Some(4 << 20);
        assert!(matches!(
            classify(
                wasmtime::Error::new(Trap::UnreachableCodeReached),
                &store,
                &options
            ),
            HostError::MemoryLimit { .. }
        ));
    }

    #[test]
    fn abi_versions_print_and_gate_opa_eval() {
        let v = |major, minor| AbiVersion { major, minor };
        assert_eq!(v(1, 3).to_string(), "1.3");
        assert!(v(1, 2).has_opa_eval() && v(1, 3).has_opa_eval());
        assert!(!v(1, 1).has_opa_eval() && !v(2, 3).has_opa_eval());
    }
}
