//! The host side of the ABI: the functions a policy module imports (`opa_abort`, `opa_println`,
//! `opa_builtin0..4`), the per-store state they see, and how a failed call is named.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::{Caller, Engine, Linker, Memory, Store, Trap};

use crate::error::HostError;
use crate::options::{Budget, HostOptions, MemoryRefused};

/// Longest `opa_abort`/`opa_println` message kept; a hostile module should not fill the logs.
const MAX_MESSAGE: usize = 64 * 1024;

/// Per-store state the host functions see.
pub(crate) struct HostState {
    pub(super) budget: Budget,
    pub(super) memory: Option<Memory>,
    pub(super) builtins: Arc<BTreeMap<i32, String>>,
}

/// Raised by the host functions; recognised again when the call returns.
#[derive(Debug)]
pub(super) enum HostStop {
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

/// The host functions of the ABI. They belong to no store, so one linker serves every call.
pub(super) fn linker(engine: &Engine) -> Result<Linker<HostState>, HostError> {
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
pub(super) fn classify(
    error: wasmtime::Error,
    store: &Store<HostState>,
    options: &HostOptions,
) -> HostError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm_host::module::engine;

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
}
