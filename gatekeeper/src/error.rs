//! The one error type of the host: every way loading or evaluating a policy module can fail.

use std::path::PathBuf;

/// Why a policy module was refused at load, or why one evaluation failed.
///
/// Evaluation errors (`OutOfFuel`, `MemoryLimit`, `Trap`, `Abort`, `UnknownBuiltin`, …) concern
/// that call only: its store is dropped and the next call starts from a fresh instance.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The module file could not be read.
    #[error("cannot read policy module {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The engine could not be configured on this host.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The bytes are not a valid WebAssembly module, or cranelift refused them.
    #[error("cannot compile policy module: {0}")]
    Compile(String),
    /// The module lacks an exported global the OPA ABI requires.
    #[error("not an OPA policy module: the exported i32 global `{name}` is missing")]
    MissingAbiGlobal { name: &'static str },
    /// The module's ABI version is not one this host speaks (major 1).
    #[error("unsupported OPA wasm ABI version {major}.{minor} (this host speaks 1.x)")]
    UnsupportedAbi { major: i32, minor: i32 },
    /// The module lacks a function export the OPA ABI requires.
    #[error("not an OPA policy module: the export `{name}` is missing")]
    MissingExport { name: &'static str },
    /// An ABI export exists with the wrong kind or signature.
    #[error("OPA ABI export `{name}` has the wrong type: {reason}")]
    ExportType { name: &'static str, reason: String },
    /// The module imports something outside the OPA ABI (`env.memory`, `env.opa_*`).
    #[error("policy module imports `{module}.{name}`, which is not part of the OPA wasm ABI")]
    UnknownImport { module: String, name: String },
    /// The module does not import `env.memory`, which the OPA ABI requires.
    #[error("not an OPA policy module: it does not import `env.memory`")]
    MissingMemoryImport,
    /// The entrypoint name is not among the module's entrypoints.
    #[error("unknown entrypoint `{name}`; the module has {known:?}")]
    UnknownEntrypoint { name: String, known: Vec<String> },
    /// The call used up its fuel budget (a runaway or too costly evaluation).
    #[error("evaluation ran out of fuel (budget {limit} units)")]
    OutOfFuel { limit: u64 },
    /// The call ran past its wall-clock deadline.
    #[error("evaluation exceeded its deadline of {limit:?}")]
    Timeout { limit: std::time::Duration },
    /// The module (or the host on its behalf) asked for more linear memory than allowed.
    #[error("evaluation exceeded the memory limit of {limit} bytes (asked for {requested} bytes)")]
    MemoryLimit { limit: usize, requested: usize },
    /// The module trapped (`unreachable`, out-of-bounds access, stack overflow, …).
    #[error("policy module trapped: {0}")]
    Trap(String),
    /// The module called `opa_abort` with this message.
    #[error("policy module aborted: {0}")]
    Abort(String),
    /// The module called a builtin this host does not provide.
    #[error("policy module called builtin {id} ({}), which this host does not provide", name.as_deref().unwrap_or("unnamed"))]
    UnknownBuiltin { id: i32, name: Option<String> },
    /// `opa_json_parse` refused the input or data document.
    #[error("the policy module could not parse the {what} document")]
    JsonRejected { what: &'static str },
    /// The 1.0 `eval` export returned a non-zero error code.
    #[error("policy evaluation returned error code {code}")]
    EvalFailed { code: i32 },
    /// The module handed back an address outside its memory, or a string without its NUL.
    #[error("policy module returned a bad {what} address {addr:#x}")]
    BadPointer { what: &'static str, addr: u32 },
    /// The module handed back something that is not the JSON the ABI promises.
    #[error("policy module returned malformed {what}: {reason}")]
    BadOutput { what: &'static str, reason: String },
    /// The entrypoint produced no result (an empty result set: undefined in Rego).
    #[error("entrypoint `{entrypoint}` is undefined for this input")]
    Undefined { entrypoint: String },
    /// Any other wasmtime failure (instantiation, …).
    #[error("wasm runtime error: {0}")]
    Runtime(String),
}
