//! A module that loops, traps, aborts, hoards memory or calls a builtin costs one failed call
//! with an error naming the cause; the same `PolicyModule` then evaluates normally. Both call
//! sequences are covered: `opa_eval` (ABI 1.2+) and the 1.0 context calls.

mod common;

use std::sync::Arc;

use common::{module, Shape, ABORT_MESSAGE};
use gatekeeper::{HostError, HostOptions, PolicyModule};
use serde_json::json;

const FUEL: u64 = 5_000_000;
const MEMORY: usize = 16 << 20;

fn load(shape: Shape) -> PolicyModule {
    HostOptions::new()
        .fuel(FUEL)
        .memory_limit(MEMORY)
        .from_bytes(&module(shape))
        .expect("test module loads")
}

fn fast() -> PolicyModule {
    let m = load(Shape::default());
    assert!(m.uses_opa_eval());
    m
}

fn v1() -> PolicyModule {
    let m = load(Shape {
        version: Some((1, 1)),
        opa_eval: false,
        ..Shape::default()
    });
    assert!(!m.uses_opa_eval());
    m
}

/// The well-behaved entrypoint echoes its input as the result.
#[track_caller]
fn assert_healthy(m: &PolicyModule) {
    let input = json!({"reference": "registry.example/app@sha256:00", "n": [1, 2.5, null, "é"]});
    assert_eq!(
        m.evaluate("ok", &input)
            .expect("the ok entrypoint evaluates"),
        input
    );
}

fn each_flow(check: impl Fn(&PolicyModule)) {
    check(&fast());
    check(&v1());
}

#[test]
fn entrypoints_and_builtins_are_read_at_load() {
    each_flow(|m| {
        let names: Vec<&str> = m.entrypoints().keys().map(String::as_str).collect();
        for (id, name) in common::ENTRYPOINTS.iter().enumerate() {
            assert_eq!(m.entrypoints()[*name], id as i32, "{names:?}");
        }
        assert_eq!(m.builtins().get("nv2.custom"), Some(&0));
        assert_healthy(m);
    });
    assert_eq!(fast().abi_version().to_string(), "1.3");
    assert_eq!(v1().abi_version().to_string(), "1.1");
}

#[test]
fn an_endless_loop_runs_out_of_fuel_and_the_next_call_works() {
    each_flow(|m| {
        for _ in 0..2 {
            match m.evaluate("loop", &json!({})) {
                Err(HostError::OutOfFuel { limit }) => assert_eq!(limit, FUEL),
                other => panic!("expected OutOfFuel, got {other:?}"),
            }
            assert_healthy(m);
        }
    });
}

#[test]
fn a_trap_is_reported_with_its_message_and_the_next_call_works() {
    each_flow(|m| {
        match m.evaluate("trap", &json!({})) {
            Err(HostError::Trap(message)) => assert!(message.contains("unreachable"), "{message}"),
            other => panic!("expected Trap, got {other:?}"),
        }
        assert_healthy(m);
    });
}

#[test]
fn opa_abort_ends_the_call_with_its_message_and_the_next_call_works() {
    each_flow(|m| {
        match m.evaluate("abort", &json!({})) {
            Err(HostError::Abort(message)) => assert_eq!(message, ABORT_MESSAGE),
            other => panic!("expected Abort, got {other:?}"),
        }
        assert_healthy(m);
    });
}

#[test]
fn endless_memory_growth_hits_the_memory_limit_and_the_next_call_works() {
    each_flow(|m| {
        match m.evaluate("grow", &json!({})) {
            Err(HostError::MemoryLimit { limit, requested }) => {
                assert_eq!(limit, MEMORY);
                assert!(requested > MEMORY, "requested {requested}");
            }
            other => panic!("expected MemoryLimit, got {other:?}"),
        }
        assert_healthy(m);
    });
}

#[test]
fn an_input_larger_than_the_memory_limit_is_refused_as_memory_limit() {
    each_flow(|m| {
        let huge = json!({"blob": "x".repeat(MEMORY)});
        match m.evaluate("ok", &huge) {
            Err(HostError::MemoryLimit { limit, .. }) => assert_eq!(limit, MEMORY),
            other => panic!("expected MemoryLimit, got {:?}", other.map(|_| "a result")),
        }
        assert_healthy(m);
    });
}

#[test]
fn a_builtin_call_is_refused_by_name_and_the_next_call_works() {
    each_flow(|m| {
        match m.evaluate("builtin", &json!({})) {
            Err(HostError::UnknownBuiltin { id, name }) => {
                assert_eq!(id, 0);
                assert_eq!(name.as_deref(), Some("nv2.custom"));
            }
            other => panic!("expected UnknownBuiltin, got {other:?}"),
        }
        assert_healthy(m);
    });
}

#[test]
fn println_is_logged_and_the_call_goes_on() {
    each_flow(|m| assert_eq!(m.evaluate("println", &json!([1])).unwrap(), json!([1])));
}

#[test]
fn an_empty_result_set_is_undefined() {
    each_flow(|m| match m.evaluate("undefined", &json!({})) {
        Err(HostError::Undefined { entrypoint }) => assert_eq!(entrypoint, "undefined"),
        other => panic!("expected Undefined, got {other:?}"),
    });
}

#[test]
fn a_result_address_outside_memory_is_a_bad_pointer() {
    each_flow(|m| match m.evaluate("bad_pointer", &json!({})) {
        Err(HostError::BadPointer {
            what: "result",
            addr,
        }) => assert_eq!(addr, 0x7fff_fff0),
        other => panic!("expected BadPointer, got {other:?}"),
    });
}

#[test]
fn an_unknown_entrypoint_is_named_with_the_known_ones() {
    match fast().evaluate("notary/verify", &json!({})) {
        Err(HostError::UnknownEntrypoint { name, known }) => {
            assert_eq!(name, "notary/verify");
            assert!(known.contains(&"ok".to_string()), "{known:?}");
        }
        other => panic!("expected UnknownEntrypoint, got {other:?}"),
    }
}

#[test]
fn raw_json_input_is_passed_through_as_is() {
    each_flow(|m| {
        assert_eq!(
            m.evaluate_json("ok", br#"{"a": [true]}"#).unwrap(),
            json!({"a": [true]})
        );
    });
}

#[test]
fn the_data_document_reaches_the_module() {
    // The echo entrypoint shows the input; data only has to parse, which `{}` and a given
    // document both must (the 1.0 flow refuses a document opa_json_parse rejects, tested below).
    let m = HostOptions::new()
        .data(&json!({"trusted": ["a"]}))
        .from_bytes(&module(Shape::default()))
        .unwrap();
    assert_healthy(&m);
}

#[test]
fn a_shared_module_serves_many_threads_with_failures_in_between() {
    let m = Arc::new(fast());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for i in 0..10 {
                    let input = json!({"thread": t, "i": i});
                    match (t + i) % 3 {
                        0 => assert!(matches!(
                            m.evaluate("loop", &input),
                            Err(HostError::OutOfFuel { .. })
                        )),
                        1 => assert!(matches!(
                            m.evaluate("abort", &input),
                            Err(HostError::Abort(_))
                        )),
                        _ => assert_eq!(m.evaluate("ok", &input).unwrap(), input),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked");
    }
    assert_healthy(&m);
}

#[test]
fn fuel_used_is_measured_per_call() {
    let m = fast();
    let (loop_result, loop_fuel) = m.instantiate().unwrap().evaluate_metered("loop", b"{}");
    assert!(matches!(loop_result, Err(HostError::OutOfFuel { .. })));
    assert_eq!(loop_fuel, FUEL, "a runaway call uses the whole budget");
    let (ok, fuel) = m.instantiate().unwrap().evaluate_metered("ok", b"[1]");
    assert_eq!(ok.unwrap(), json!([1]));
    assert!(
        fuel > 0 && fuel < 10_000,
        "the echo entrypoint is cheap: {fuel}"
    );
}

#[test]
fn a_runaway_under_the_default_options_stops_at_the_deadline() {
    let m = PolicyModule::from_bytes(&module(Shape::default())).unwrap();
    let start = std::time::Instant::now();
    match m.evaluate("loop", &json!({})) {
        // The deadline (2 s) comes first unless the machine is very fast; either bound is fine.
        Err(HostError::Timeout { limit }) => assert_eq!(limit, gatekeeper::DEFAULT_DEADLINE),
        Err(HostError::OutOfFuel { limit }) => assert_eq!(limit, gatekeeper::DEFAULT_FUEL),
        other => panic!("expected Timeout or OutOfFuel, got {other:?}"),
    }
    let took = start.elapsed();
    println!("a runaway under the default options stopped after {took:?}");
    assert!(
        took < gatekeeper::DEFAULT_DEADLINE + std::time::Duration::from_secs(1),
        "{took:?}"
    );
    assert_healthy(&m);
}

#[test]
fn a_deadline_stops_a_runaway_that_has_fuel_to_spare() {
    for shape in [
        Shape::default(),
        Shape {
            version: Some((1, 1)),
            opa_eval: false,
            ..Shape::default()
        },
    ] {
        let deadline = std::time::Duration::from_millis(100);
        let m = HostOptions::new()
            .fuel(u64::MAX)
            .deadline(Some(deadline))
            .from_bytes(&module(shape))
            .unwrap();
        let start = std::time::Instant::now();
        match m.evaluate("loop", &json!({})) {
            Err(HostError::Timeout { limit }) => assert_eq!(limit, deadline),
            other => panic!("expected Timeout, got {other:?}"),
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_healthy(&m);
    }
}
