//! Adds the ABI version globals to the linked module.
//!
//! OPA reads the ABI version from two exported immutable i32 globals, `opa_wasm_abi_version` and
//! `opa_wasm_abi_minor_version`, and refuses (or panics on) a module without them. Rust cannot
//! define an exported wasm global, so they are appended here: the global section gets two more
//! entries (after the existing ones, so no index moves), the export section two more exports,
//! and every other section is copied byte for byte.

use wasm_encoder::{
    ConstExpr, ExportKind, ExportSection, GlobalSection, GlobalType, Module, RawSection, ValType,
};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// OPA WebAssembly ABI version implemented by policy-wasm.
pub const ABI_MAJOR: i32 = 1;
pub const ABI_MINOR: i32 = 3;
pub const MAJOR_NAME: &str = "opa_wasm_abi_version";
pub const MINOR_NAME: &str = "opa_wasm_abi_minor_version";

/// Returns `module` with the two version globals defined and exported.
pub fn add_abi_globals(module: &[u8]) -> Result<Vec<u8>, String> {
    let mut imported_globals = 0u32;
    let mut defined_globals = 0u32;
    let mut seen_globals = false;
    let mut out = Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| format!("parsing the linked module: {e}"))?;
        match &payload {
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    if matches!(import.ty, TypeRef::Global(_)) {
                        imported_globals += 1;
                    }
                }
                copy_section(&mut out, module, &payload);
            }
            Payload::GlobalSection(reader) => {
                seen_globals = true;
                defined_globals = reader.count();
                let mut globals = GlobalSection::new();
                // Each existing entry is copied raw: [entry start, next entry start).
                let starts: Vec<usize> = reader
                    .clone()
                    .into_iter_with_offsets()
                    .map(|e| e.map(|(offset, _)| offset as usize))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                let end = reader.range().end as usize;
                for (i, &start) in starts.iter().enumerate() {
                    let stop = starts.get(i + 1).copied().unwrap_or(end);
                    globals.raw(&module[start..stop]);
                }
                add_version_globals(&mut globals);
                out.section(&globals);
            }
            Payload::ExportSection(reader) => {
                if !seen_globals {
                    // A module without globals of its own: the new section goes in its place,
                    // right before the exports.
                    let mut globals = GlobalSection::new();
                    add_version_globals(&mut globals);
                    out.section(&globals);
                }
                let first = imported_globals + defined_globals;
                let mut exports = ExportSection::new();
                for export in reader.clone() {
                    let export = export.map_err(|e| e.to_string())?;
                    if export.name == MAJOR_NAME || export.name == MINOR_NAME {
                        return Err(format!("the module already exports {}", export.name));
                    }
                    exports.export(export.name, export_kind(export.kind)?, export.index);
                }
                exports.export(MAJOR_NAME, ExportKind::Global, first);
                exports.export(MINOR_NAME, ExportKind::Global, first + 1);
                out.section(&exports);
            }
            _ => copy_section(&mut out, module, &payload),
        }
    }
    Ok(out.finish())
}

fn add_version_globals(globals: &mut GlobalSection) {
    let ty = GlobalType {
        val_type: ValType::I32,
        mutable: false,
        shared: false,
    };
    globals.global(ty, &ConstExpr::i32_const(ABI_MAJOR));
    globals.global(ty, &ConstExpr::i32_const(ABI_MINOR));
}

/// Copies a section as it is; payloads that are not sections (the header, code entries, the
/// end) are skipped because their bytes belong to a section already copied or to the header
/// `Module` writes.
fn copy_section(out: &mut Module, module: &[u8], payload: &Payload<'_>) {
    if let Some((id, range)) = payload.as_section() {
        out.section(&RawSection {
            id,
            data: &module[range.start as usize..range.end as usize],
        });
    }
}

fn export_kind(kind: ExternalKind) -> Result<ExportKind, String> {
    Ok(match kind {
        ExternalKind::Func => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
        other => return Err(format!("unsupported export kind {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, EntityType, Function, FunctionSection, ImportSection, Instruction, MemoryType,
        TypeSection,
    };

    /// A module shaped like the linked policy: imported memory and function, one mutable global
    /// (the stack pointer), exported functions and memory, a custom section.
    fn linked_like(with_global: bool) -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], []);
        types.ty().function([], [ValType::I32]);
        m.section(&types);
        let mut imports = ImportSection::new();
        imports.import(
            "env",
            "memory",
            EntityType::Memory(MemoryType {
                minimum: 2,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            }),
        );
        imports.import("env", "opa_abort", EntityType::Function(0));
        m.section(&imports);
        let mut funcs = FunctionSection::new();
        funcs.function(1);
        m.section(&funcs);
        if with_global {
            let mut globals = GlobalSection::new();
            globals.global(
                GlobalType {
                    val_type: ValType::I32,
                    mutable: true,
                    shared: false,
                },
                &ConstExpr::i32_const(65536),
            );
            m.section(&globals);
        }
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("opa_heap_ptr_get", ExportKind::Func, 1);
        m.section(&exports);
        let mut code = CodeSection::new();
        let mut f = Function::new([]);
        f.instruction(&Instruction::I32Const(7));
        f.instruction(&Instruction::End);
        code.function(&f);
        m.section(&code);
        m.section(&RawSection {
            id: 0,
            data: b"\x08producersabc",
        });
        m.finish()
    }

    fn global_values(module: &[u8]) -> Vec<(String, i32, bool)> {
        let mut values = Vec::new();
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(module) {
            match payload.unwrap() {
                Payload::GlobalSection(r) => {
                    for g in r {
                        let g = g.unwrap();
                        let mut ops = g.init_expr.get_operators_reader();
                        let wasmparser::Operator::I32Const { value } = ops.read().unwrap() else {
                            panic!("not i32.const")
                        };
                        values.push((value, g.ty.mutable));
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.unwrap();
                        if e.kind == ExternalKind::Global {
                            exports.push((e.name.to_string(), e.index));
                        }
                    }
                }
                _ => {}
            }
        }
        exports
            .into_iter()
            .map(|(n, i)| (n, values[i as usize].0, values[i as usize].1))
            .collect()
    }

    #[test]
    fn adds_exported_immutable_version_globals_after_the_existing_ones() {
        let before = linked_like(true);
        let after = add_abi_globals(&before).unwrap();
        wasmparser::Validator::new().validate_all(&after).unwrap();
        assert_eq!(
            global_values(&after),
            vec![
                (MAJOR_NAME.to_string(), 1, false),
                (MINOR_NAME.to_string(), 3, false)
            ]
        );
        // Everything else is untouched: the same code bytes and the same custom section.
        let code = |m: &[u8]| {
            Parser::new(0)
                .parse_all(m)
                .find_map(|p| match p.unwrap() {
                    Payload::CodeSectionStart {
                        unchecked_range: range,
                        ..
                    } => Some(m[range.start as usize..range.end as usize].to_vec()),
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(code(&before), code(&after));
        assert!(
            after.ends_with(b"\x08producersabc"),
            "the custom section is copied as it was"
        );
    }

    #[test]
    fn creates_a_global_section_when_there_is_none() {
        let after = add_abi_globals(&linked_like(false)).unwrap();
        wasmparser::Validator::new().validate_all(&after).unwrap();
        assert_eq!(global_values(&after).len(), 2);
    }

    #[test]
    fn refuses_a_module_that_already_has_them() {
        let once = add_abi_globals(&linked_like(true)).unwrap();
        assert!(add_abi_globals(&once)
            .unwrap_err()
            .contains("already exports"));
    }
}
