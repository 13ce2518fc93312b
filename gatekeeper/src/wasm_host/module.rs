//! Loading a policy module: the shared engine, compilation, the imports the OPA ABI allows, and
//! the ABI version, exports and entrypoint tables read from a scratch instance.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use wasmtime::{Config, Engine, ExternType, Instance, Linker, Memory, MemoryType, Module, Store};

use super::imports::{classify, linker, HostState};
use super::session::Session;
use crate::error::HostError;
use crate::options::{Budget, HostOptions, EPOCH_TICK};

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

/// One engine per process: its settings never change (fuel and epochs on), and sharing it lets
/// modules loaded later reuse its type registry and compiler state. Its epoch advances every
/// [`EPOCH_TICK`] on a thread of its own, which is what wall-clock deadlines count.
pub(super) fn engine() -> Result<Engine, HostError> {
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
    pub(super) engine: Engine,
    pub(super) module: Module,
    pub(super) linker: Linker<HostState>,
    pub(super) memory_type: MemoryType,
    pub(super) abi: AbiVersion,
    pub(super) fast_path: bool,
    pub(super) entrypoints: BTreeMap<String, i32>,
    pub(super) builtins: BTreeMap<String, i32>,
    pub(super) builtin_names: Arc<BTreeMap<i32, String>>,
    pub(super) options: HostOptions,
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

    pub(super) fn entrypoint_id(&self, name: &str) -> Result<i32, HostError> {
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
    fn abi_versions_print_and_gate_opa_eval() {
        let v = |major, minor| AbiVersion { major, minor };
        assert_eq!(v(1, 3).to_string(), "1.3");
        assert!(v(1, 2).has_opa_eval() && v(1, 3).has_opa_eval());
        assert!(!v(1, 1).has_opa_eval() && !v(2, 3).has_opa_eval());
    }
}
