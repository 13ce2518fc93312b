//! Validates the final module and checks it against OPA's WebAssembly ABI 1.3 (OPA's
//! docs/content/wasm.md and DESIGN.md, Contract 2): the imports hosts provide and nothing else,
//! every ABI function export with its signature, `memory`, and the version globals.

use wasmparser::{
    ExternalKind, Operator, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

use crate::globals::{ABI_MAJOR, ABI_MINOR, MAJOR_NAME, MINOR_NAME};

/// The largest initial memory (in 64 KiB pages) the memory import may ask for: OPA's Go SDK
/// provides 2 by default and its runtime refuses a module that needs more than it provides.
pub const MAX_INITIAL_PAGES: u64 = 2;

/// Host imports: (name, parameter count); all parameters are i32, builtins return i32.
const FUNCTION_IMPORTS: &[(&str, usize, usize)] = &[
    ("opa_abort", 1, 0),
    ("opa_println", 1, 0),
    ("opa_builtin0", 2, 1),
    ("opa_builtin1", 3, 1),
    ("opa_builtin2", 4, 1),
    ("opa_builtin3", 5, 1),
    ("opa_builtin4", 6, 1),
];

/// ABI 1.0–1.3 function exports: (name, i32 parameters, i32 results).
pub const FUNCTION_EXPORTS: &[(&str, usize, usize)] = &[
    ("eval", 1, 1),
    ("builtins", 0, 1),
    ("entrypoints", 0, 1),
    ("opa_eval_ctx_new", 0, 1),
    ("opa_eval_ctx_set_input", 2, 0),
    ("opa_eval_ctx_set_data", 2, 0),
    ("opa_eval_ctx_set_entrypoint", 2, 0),
    ("opa_eval_ctx_get_result", 1, 1),
    ("opa_malloc", 1, 1),
    ("opa_free", 1, 0),
    ("opa_json_parse", 2, 1),
    ("opa_value_parse", 2, 1),
    ("opa_json_dump", 1, 1),
    ("opa_value_dump", 1, 1),
    ("opa_heap_ptr_get", 0, 1),
    ("opa_heap_ptr_set", 1, 0),
    ("opa_value_add_path", 3, 1),
    ("opa_value_remove_path", 2, 1),
    ("opa_eval", 7, 1),
    ("opa_value_free", 1, 0),
    ("opa_heap_blocks_stash", 0, 0),
    ("opa_heap_blocks_restore", 0, 0),
    ("opa_heap_stash_clear", 0, 0),
];

/// What the check found, for the build log.
#[derive(Debug)]
pub struct Summary {
    /// `module.name: kind` for every import.
    pub imports: Vec<String>,
    /// Every export name with its kind.
    pub exports: Vec<String>,
    pub memory_initial_pages: u64,
    pub memory_maximum_pages: Option<u64>,
}

/// Validates `module` (WebAssembly 2.0 features, which every OPA host runtime supports) and
/// checks the ABI. Returns every problem found, not just the first.
pub fn check_module(module: &[u8]) -> Result<Summary, String> {
    let types = Validator::new_with_features(WasmFeatures::WASM2)
        .validate_all(module)
        .map_err(|e| format!("the module is not valid WebAssembly 2.0: {e}"))?;
    let types = types.as_ref();
    let mut problems = Vec::new();
    let signature = |ty: wasmparser::types::CoreTypeId| {
        let f = types[ty].unwrap_func();
        let all_i32 = f
            .params()
            .iter()
            .chain(f.results())
            .all(|t| *t == ValType::I32);
        (all_i32, f.params().len(), f.results().len())
    };

    let mut summary = Summary {
        imports: Vec::new(),
        exports: Vec::new(),
        memory_initial_pages: 0,
        memory_maximum_pages: None,
    };
    let mut memory_imported = false;
    for (module_name, name, ty) in types.core_imports().expect("a core module") {
        summary
            .imports
            .push(format!("{module_name}.{name}: {}", kind_name_entity(&ty)));
        match (module_name, name, ty) {
            ("env", "memory", wasmparser::types::EntityType::Memory(m)) => {
                memory_imported = true;
                summary.memory_initial_pages = m.initial;
                summary.memory_maximum_pages = m.maximum;
                if m.initial > MAX_INITIAL_PAGES {
                    problems.push(format!(
                        "env.memory asks for {} initial pages; hosts give {MAX_INITIAL_PAGES}",
                        m.initial
                    ));
                }
                if m.shared || m.memory64 {
                    problems.push("env.memory must be a plain 32-bit unshared memory".to_string());
                }
            }
            ("env", _, wasmparser::types::EntityType::Func(id)) => {
                match FUNCTION_IMPORTS.iter().find(|(n, ..)| *n == name) {
                    Some(&(_, params, results)) => {
                        if signature(id) != (true, params, results) {
                            problems.push(format!("import env.{name} has the wrong signature"));
                        }
                    }
                    None => problems.push(format!(
                        "unexpected import env.{name}: OPA hosts do not provide it"
                    )),
                }
            }
            _ => problems.push(format!(
                "unexpected import {module_name}.{name}: OPA hosts do not provide it"
            )),
        }
    }
    if !memory_imported {
        problems.push("missing import env.memory".to_string());
    }
    for (name, ..) in FUNCTION_IMPORTS {
        if !summary
            .imports
            .iter()
            .any(|i| i.starts_with(&format!("env.{name}:")))
        {
            problems.push(format!("missing import env.{name}"));
        }
    }

    let exports: Vec<(&str, wasmparser::types::EntityType)> =
        types.core_exports().expect("a core module").collect();
    for (name, ty) in &exports {
        summary
            .exports
            .push(format!("{name}: {}", kind_name_entity(ty)));
    }
    for &(name, params, results) in FUNCTION_EXPORTS {
        match exports.iter().find(|(n, _)| *n == name) {
            Some((_, wasmparser::types::EntityType::Func(id))) => {
                if signature(*id) != (true, params, results) {
                    problems.push(format!("export {name} has the wrong signature (want {params} i32 -> {results} i32)"));
                }
            }
            Some(_) => problems.push(format!("export {name} is not a function")),
            None => problems.push(format!("missing export {name}")),
        }
    }
    if !exports
        .iter()
        .any(|(n, t)| *n == "memory" && matches!(t, wasmparser::types::EntityType::Memory(_)))
    {
        problems.push("missing export memory (ABI 1.1)".to_string());
    }
    for (name, want) in [(MAJOR_NAME, ABI_MAJOR), (MINOR_NAME, ABI_MINOR)] {
        match exported_global_value(module, name)? {
            Some((value, false)) if value == want => {}
            Some((value, mutable)) => problems.push(format!(
                "global {name} is {value} (mutable: {mutable}), want immutable {want}"
            )),
            None => problems.push(format!("missing exported global {name}")),
        }
    }

    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!(
            "the module breaks the OPA ABI:\n  {}",
            problems.join("\n  ")
        ))
    }
}

fn kind_name_entity(ty: &wasmparser::types::EntityType) -> &'static str {
    match ty {
        wasmparser::types::EntityType::Func(_) | wasmparser::types::EntityType::FuncExact(_) => {
            "func"
        }
        wasmparser::types::EntityType::Table(_) => "table",
        wasmparser::types::EntityType::Memory(_) => "memory",
        wasmparser::types::EntityType::Global(_) => "global",
        wasmparser::types::EntityType::Tag(_) => "tag",
    }
}

/// The constant value and mutability of the global exported as `name`, if it is a defined
/// global initialised with `i32.const`.
fn exported_global_value(module: &[u8], name: &str) -> Result<Option<(i32, bool)>, String> {
    let mut imported = 0u32;
    let mut defined: Vec<(Option<i32>, bool)> = Vec::new();
    let mut index = None;
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    if matches!(import.map_err(|e| e.to_string())?.ty, TypeRef::Global(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    let g = g.map_err(|e| e.to_string())?;
                    let value = match g.init_expr.get_operators_reader().read() {
                        Ok(Operator::I32Const { value }) => Some(value),
                        _ => None,
                    };
                    defined.push((value, g.ty.mutable));
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(|e| e.to_string())?;
                    if e.name == name && e.kind == ExternalKind::Global {
                        index = Some(e.index);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(index
        .and_then(|i| i.checked_sub(imported))
        .and_then(|i| defined.get(i as usize).copied())
        .and_then(|(value, mutable)| value.map(|v| (v, mutable))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ConstExpr, EntityType, ExportKind, ExportSection, Function, FunctionSection,
        GlobalSection, GlobalType, ImportSection, Instruction, MemoryType, Module, TypeSection,
        ValType as V,
    };

    /// A module with the whole ABI surface, every function trivial; `skip` leaves an export out
    /// and `initial` sets the memory import's minimum.
    fn abi_module(skip: &str, initial: u64) -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        // Types 0..=7: i32^n -> (), then 8..=15: i32^n -> i32.
        for results in [0usize, 1] {
            for n in 0..8 {
                types.ty().function(vec![V::I32; n], vec![V::I32; results]);
            }
        }
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import(
            "env",
            "memory",
            EntityType::Memory(MemoryType {
                minimum: initial,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            }),
        );
        for &(name, params, results) in FUNCTION_IMPORTS {
            imports.import(
                "env",
                name,
                EntityType::Function((params + 8 * results) as u32),
            );
        }
        m.section(&imports);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for &(_, params, results) in FUNCTION_EXPORTS {
            funcs.function((params + 8 * results) as u32);
            let mut f = Function::new([]);
            if results == 1 {
                f.instruction(&Instruction::I32Const(0));
            }
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        m.section(&funcs);
        let mut globals = GlobalSection::new();
        let ty = GlobalType {
            val_type: V::I32,
            mutable: false,
            shared: false,
        };
        globals.global(ty, &ConstExpr::i32_const(1));
        globals.global(ty, &ConstExpr::i32_const(3));
        m.section(&globals);
        let mut exports = ExportSection::new();
        let base = FUNCTION_IMPORTS.len() as u32;
        for (i, &(name, ..)) in FUNCTION_EXPORTS.iter().enumerate() {
            if name != skip {
                exports.export(name, ExportKind::Func, base + i as u32);
            }
        }
        exports.export("memory", ExportKind::Memory, 0);
        exports.export(MAJOR_NAME, ExportKind::Global, 0);
        exports.export(MINOR_NAME, ExportKind::Global, 1);
        m.section(&exports);
        m.section(&code);
        m.finish()
    }

    #[test]
    fn a_complete_module_passes() {
        let summary = check_module(&abi_module("", 2)).unwrap();
        assert_eq!(summary.memory_initial_pages, 2);
        assert_eq!(summary.imports.len(), 8);
    }

    #[test]
    fn each_missing_export_is_reported() {
        for &(name, ..) in FUNCTION_EXPORTS {
            let err = check_module(&abi_module(name, 2)).unwrap_err();
            assert!(err.contains(&format!("missing export {name}")), "{err}");
        }
    }

    #[test]
    fn a_large_initial_memory_is_refused() {
        let err = check_module(&abi_module("", 3)).unwrap_err();
        assert!(err.contains("3 initial pages"), "{err}");
    }
}
