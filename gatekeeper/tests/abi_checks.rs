//! What `PolicyModule::load` refuses, and why: no ABI globals, a wrong major version, imports
//! outside the ABI, missing exports, bytes that are not wasm; and what it accepts (1.x minors,
//! the memory the module declares).

mod common;

use common::{module, Shape};
use gatekeeper::{AbiVersion, HostError, HostOptions, PolicyModule};
use serde_json::json;

#[test]
fn a_module_without_the_abi_version_globals_is_refused() {
    match PolicyModule::from_bytes(&module(Shape {
        version: None,
        ..Shape::default()
    })) {
        Err(
            e @ HostError::MissingAbiGlobal {
                name: "opa_wasm_abi_version",
            },
        ) => {
            assert!(e.to_string().contains("opa_wasm_abi_version"), "{e}");
        }
        other => panic!("expected MissingAbiGlobal, got {other:?}"),
    }
}

#[test]
fn a_wrong_major_version_is_refused() {
    for (major, minor) in [(2, 0), (0, 3)] {
        match PolicyModule::from_bytes(&module(Shape {
            version: Some((major, minor)),
            ..Shape::default()
        })) {
            Err(e @ HostError::UnsupportedAbi { .. }) => {
                assert!(
                    matches!(e, HostError::UnsupportedAbi { major: a, minor: b } if a == major && b == minor)
                );
                assert!(e.to_string().contains(&format!("{major}.{minor}")), "{e}");
            }
            other => panic!("expected UnsupportedAbi for {major}.{minor}, got {other:?}"),
        }
    }
}

#[test]
fn minor_versions_choose_the_call_sequence() {
    // 1.1 with an opa_eval export still uses the 1.0 sequence: opa_eval is a 1.2 function.
    for (minor, opa_eval, fast) in [
        (0, false, false),
        (1, true, false),
        (2, true, true),
        (3, true, true),
        (3, false, false),
        (9, true, true),
    ] {
        let m = PolicyModule::from_bytes(&module(Shape {
            version: Some((1, minor)),
            opa_eval,
            ..Shape::default()
        }))
        .unwrap();
        assert_eq!(m.abi_version(), AbiVersion { major: 1, minor });
        assert_eq!(
            m.uses_opa_eval(),
            fast,
            "1.{minor} with opa_eval={opa_eval}"
        );
        assert_eq!(m.evaluate("ok", &json!("x")).unwrap(), json!("x"));
    }
}

#[test]
fn an_import_outside_the_abi_is_refused() {
    match PolicyModule::from_bytes(&module(Shape {
        extra_import: true,
        ..Shape::default()
    })) {
        Err(HostError::UnknownImport { module, name }) => {
            assert_eq!((module.as_str(), name.as_str()), ("env", "surprise"))
        }
        other => panic!("expected UnknownImport, got {other:?}"),
    }
}

#[test]
fn the_host_memory_matches_the_import() {
    for pages in [1, 2, 5] {
        let m = PolicyModule::from_bytes(&module(Shape {
            pages,
            ..Shape::default()
        }))
        .unwrap();
        assert_eq!(m.evaluate("ok", &json!(pages)).unwrap(), json!(pages));
    }
}

#[test]
fn a_memory_import_larger_than_the_limit_is_refused_at_load() {
    match HostOptions::new()
        .memory_limit(64 << 10)
        .from_bytes(&module(Shape {
            pages: 2,
            ..Shape::default()
        })) {
        Err(HostError::MemoryLimit { limit, requested }) => {
            assert_eq!((limit, requested), (64 << 10, 128 << 10))
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
}

#[test]
fn a_module_without_memory_import_or_exports_is_refused() {
    let no_memory =
        wat::parse_str(r#"(module (global (export "opa_wasm_abi_version") i32 (i32.const 1)))"#)
            .unwrap();
    assert!(matches!(
        PolicyModule::from_bytes(&no_memory),
        Err(HostError::MissingMemoryImport)
    ));

    let bare = wat::parse_str(
        r#"(module (import "env" "memory" (memory 1))
             (global (export "opa_wasm_abi_version") i32 (i32.const 1))
             (global (export "opa_wasm_abi_minor_version") i32 (i32.const 3)))"#,
    )
    .unwrap();
    match PolicyModule::from_bytes(&bare) {
        Err(HostError::MissingExport { name }) => assert_eq!(name, "opa_malloc"),
        other => panic!("expected MissingExport, got {other:?}"),
    }
}

#[test]
fn an_abi_export_of_the_wrong_type_is_refused() {
    let wrong = common::wat(Shape::default()).replace(
        r#"(func (export "opa_heap_ptr_get") (result i32) (global.get $heap))"#,
        r#"(func (export "opa_heap_ptr_get") (param i32) (result i32) (global.get $heap))"#,
    );
    match PolicyModule::from_bytes(&wat::parse_str(wrong).unwrap()) {
        Err(HostError::ExportType { name, .. }) => assert_eq!(name, "opa_heap_ptr_get"),
        other => panic!("expected ExportType, got {other:?}"),
    }
}

#[test]
fn bytes_that_are_not_wasm_and_missing_files_are_refused() {
    assert!(matches!(
        PolicyModule::from_bytes(b"\0asm garbage"),
        Err(HostError::Compile(_))
    ));
    match PolicyModule::load("/nonexistent/policy.wasm") {
        Err(e @ HostError::Io { .. }) => {
            assert!(e.to_string().contains("/nonexistent/policy.wasm"), "{e}")
        }
        other => panic!("expected Io, got {other:?}"),
    }
}
