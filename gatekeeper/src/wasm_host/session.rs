//! One evaluation: an instance in its own bounded store, the ABI call sequences (`opa_eval` from
//! ABI 1.2, the context calls of 1.0), and reading what the module hands back.

use std::collections::BTreeMap;

use serde_json::Value;
use wasmtime::{Instance, Memory, Mutability, Store, TypedFunc, ValType, WasmParams, WasmResults};

use super::imports::{classify, HostState};
use super::module::PolicyModule;
use crate::error::HostError;

const PAGE: u64 = 64 * 1024;

/// `opa_eval(reserved, entrypoint, data, input, input_len, heap_ptr, format) -> result`.
type OpaEval = TypedFunc<(i32, i32, i32, i32, i32, i32, i32), i32>;

/// The ABI exports every evaluation needs.
pub(super) struct Exports {
    pub(super) entrypoints: TypedFunc<(), i32>,
    pub(super) builtins: TypedFunc<(), i32>,
    pub(super) opa_eval: Option<OpaEval>,
}

/// The ABI 1.0 exports of the context-based call sequence.
pub(super) struct V1Exports {
    ctx_new: TypedFunc<(), i32>,
    set_input: TypedFunc<(i32, i32), ()>,
    set_data: TypedFunc<(i32, i32), ()>,
    set_entrypoint: TypedFunc<(i32, i32), ()>,
    eval: TypedFunc<i32, i32>,
    get_result: TypedFunc<i32, i32>,
}

/// One instance in its own store, good for one evaluation (see [`PolicyModule::instantiate`]).
pub struct Session<'m> {
    pub(super) module: &'m PolicyModule,
    pub(super) store: Store<HostState>,
    pub(super) memory: Memory,
    pub(super) instance: Instance,
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
    pub(super) fn json_table(
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

    pub(super) fn abi_global(&mut self, name: &'static str) -> Result<i32, HostError> {
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

    pub(super) fn exports(&mut self) -> Result<Exports, HostError> {
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

    pub(super) fn v1_exports(&mut self) -> Result<V1Exports, HostError> {
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
