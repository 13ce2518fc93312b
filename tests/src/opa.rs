//! OPA's own engine in-process: `libopabridge.so` from PyPI's `opa-golib-python-bindings` (OPA's
//! Go `rego` package built as a C shared library), loaded with libloading. `make setup` unpacks the
//! wheel under `.tools/opa-golib/`; `NV2_OPA_LIB` names another copy of the library.
//!
//! The bridge's calls answer a JSON envelope, `{"result": …}` or `{"error": {"code", "message"}}`,
//! in a C string the caller frees with `OpaFreeString`. A registered function is called back as
//! `cb(handle, name, args_json)` and answers `{"result": …}` or `{"error": "…"}` in a buffer from
//! the C allocator, which the Go side frees.
//!
//! A Go runtime cannot be unloaded, so the library is loaded once and never closed.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use crate::workspace_root;

/// Where `make setup` puts the library, relative to the workspace.
pub const DEFAULT_LIB: &str = ".tools/opa-golib/opa_bindings/libopabridge.so";

type Callback = unsafe extern "C" fn(u64, *const c_char, *const c_char) -> *mut c_void;

/// The bridge's C functions.
struct Api {
    new: unsafe extern "C" fn() -> u64,
    destroy: unsafe extern "C" fn(u64),
    free_string: unsafe extern "C" fn(*mut c_void),
    add_policy: unsafe extern "C" fn(u64, *const c_char, *const c_char) -> *mut c_void,
    add_data: unsafe extern "C" fn(u64, *const c_char, *const c_char) -> *mut c_void,
    register_builtin: unsafe extern "C" fn(u64, *const c_char, c_int, Callback) -> *mut c_void,
    eval_query:
        unsafe extern "C" fn(u64, *const c_char, *const c_char, c_int, c_int) -> *mut c_void,
}

/// A registered Rego function: JSON arguments in, a JSON value or an error message out.
pub type Function = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// Registered functions by (engine handle, name): the callback finds its closure here.
fn functions() -> &'static Mutex<HashMap<(u64, String), Function>> {
    static FUNCTIONS: OnceLock<Mutex<HashMap<(u64, String), Function>>> = OnceLock::new();
    FUNCTIONS.get_or_init(Default::default)
}

/// The library's path: `NV2_OPA_LIB`, else the one `make setup` installs.
pub fn library_path() -> PathBuf {
    std::env::var_os("NV2_OPA_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(DEFAULT_LIB))
}

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(|| {
        let path = library_path();
        if !path.exists() {
            return Err(format!(
                "{} is missing: run `make setup` (OPA's engine from opa-golib-python-bindings)",
                path.display()
            ));
        }
        // SAFETY: the library's initialisers start the Go runtime and nothing else.
        let lib = unsafe { libloading::Library::new(&path) }
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: the signatures are those of the bridge's exported functions (its ctypes
        // declarations); the library is leaked below, so the pointers stay valid.
        let api = unsafe {
            Api {
                new: *lib.get(b"OpaNew\0").map_err(|e| e.to_string())?,
                destroy: *lib.get(b"OpaDestroy\0").map_err(|e| e.to_string())?,
                free_string: *lib.get(b"OpaFreeString\0").map_err(|e| e.to_string())?,
                add_policy: *lib.get(b"OpaAddPolicy\0").map_err(|e| e.to_string())?,
                add_data: *lib.get(b"OpaAddData\0").map_err(|e| e.to_string())?,
                register_builtin: *lib
                    .get(b"OpaRegisterBuiltin\0")
                    .map_err(|e| e.to_string())?,
                eval_query: *lib.get(b"OpaEvalQuery\0").map_err(|e| e.to_string())?,
            }
        };
        std::mem::forget(lib);
        Ok(api)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Whether OPA's engine can be loaded (else why not).
pub fn available() -> Result<(), String> {
    api().map(|_| ())
}

/// An error OPA answered: its code (`prepare_error`, `eval_error`, …) and message, which names
/// the file and line for compile errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for OpaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OPA {}: {}", self.code, self.message)
    }
}

impl std::error::Error for OpaError {}

fn bridge_error(message: impl Into<String>) -> OpaError {
    OpaError {
        code: "bridge".into(),
        message: message.into(),
    }
}

fn cstring(s: &str) -> Result<CString, OpaError> {
    CString::new(s).map_err(|_| bridge_error("a string with a NUL byte cannot cross into OPA"))
}

/// One OPA engine: policies, data (deep-merged), registered functions, queries.
pub struct OpaEngine {
    api: &'static Api,
    handle: u64,
    // The bridge keeps per-evaluation state on the engine: one query at a time.
    eval: Mutex<()>,
}

impl OpaEngine {
    pub fn new() -> Result<Self, String> {
        let api = api()?;
        // SAFETY: OpaNew takes no arguments and answers a handle.
        let handle = unsafe { (api.new)() };
        Ok(OpaEngine {
            api,
            handle,
            eval: Mutex::new(()),
        })
    }

    /// Reads and frees an envelope, answering its `result`.
    fn envelope(&self, ptr: *mut c_void) -> Result<Value, OpaError> {
        if ptr.is_null() {
            return Err(bridge_error("the bridge answered NULL"));
        }
        // SAFETY: the bridge answers a NUL-terminated string that we own until OpaFreeString.
        let text = unsafe { CStr::from_ptr(ptr as *const c_char) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: freed once, with the bridge's own function.
        unsafe { (self.api.free_string)(ptr) };
        let mut envelope: Value = serde_json::from_str(&text)
            .map_err(|e| bridge_error(format!("unreadable answer {text:?}: {e}")))?;
        match envelope.get("error") {
            Some(e) if !e.is_null() => Err(OpaError {
                code: e["code"].as_str().unwrap_or("unknown").to_string(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            }),
            _ => Ok(envelope["result"].take()),
        }
    }

    /// Adds a Rego module; `path` is the name OPA uses in its messages.
    pub fn add_policy(&self, path: &str, source: &str) -> Result<(), OpaError> {
        let (path, source) = (cstring(path)?, cstring(source)?);
        // SAFETY: valid C strings for the duration of the call.
        let ptr = unsafe { (self.api.add_policy)(self.handle, path.as_ptr(), source.as_ptr()) };
        self.envelope(ptr).map(|_| ())
    }

    /// Deep-merges `value` into `data` at a dotted `path` (`""` is the root), as OPA's Data API
    /// writes a document.
    pub fn add_data(&self, path: &str, value: &Value) -> Result<(), OpaError> {
        let (path, value) = (cstring(path)?, cstring(&value.to_string())?);
        // SAFETY: valid C strings for the duration of the call.
        let ptr = unsafe { (self.api.add_data)(self.handle, path.as_ptr(), value.as_ptr()) };
        self.envelope(ptr).map(|_| ())
    }

    /// Registers a Rego function `name` of `arity` arguments (a custom builtin).
    pub fn register_function(
        &self,
        name: &str,
        arity: usize,
        function: Function,
    ) -> Result<(), OpaError> {
        let key = (self.handle, name.to_string());
        functions().lock().unwrap().insert(key.clone(), function);
        let c_name = cstring(name)?;
        let arity = c_int::try_from(arity).map_err(|_| bridge_error("arity too large"))?;
        // SAFETY: a valid C string; `dispatch` has the callback's signature.
        let ptr =
            unsafe { (self.api.register_builtin)(self.handle, c_name.as_ptr(), arity, dispatch) };
        self.envelope(ptr).map(|_| ()).inspect_err(|_| {
            functions().lock().unwrap().remove(&key);
        })
    }

    /// Evaluates a query; the result set as OPA answers it (`[{"expressions", "bindings"}]`).
    pub fn eval_query(&self, query: &str, input: Option<&Value>) -> Result<Vec<Value>, OpaError> {
        let query = cstring(query)?;
        let input = cstring(&input.map(Value::to_string).unwrap_or_default())?;
        let _one_at_a_time = self.eval.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: valid C strings for the duration of the call; no coverage, no trace.
        let ptr =
            unsafe { (self.api.eval_query)(self.handle, query.as_ptr(), input.as_ptr(), 0, 0) };
        match self.envelope(ptr)? {
            Value::Null => Ok(Vec::new()),
            Value::Array(results) => Ok(results),
            other => Err(bridge_error(format!(
                "a result set that is no array: {other}"
            ))),
        }
    }

    /// The value of the query's last expression in its first result, as `opa eval` prints it;
    /// `None` when it is undefined.
    pub fn eval(&self, query: &str, input: Option<&Value>) -> Result<Option<Value>, OpaError> {
        let results = self.eval_query(query, input)?;
        Ok(results.into_iter().next().and_then(|mut r| {
            r["expressions"]
                .as_array_mut()
                .and_then(|e| e.pop())
                .map(|mut e| e["value"].take())
        }))
    }
}

impl Drop for OpaEngine {
    fn drop(&mut self) {
        functions()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(handle, _), _| *handle != self.handle);
        // SAFETY: the handle came from OpaNew and is destroyed once.
        unsafe { (self.api.destroy)(self.handle) };
    }
}

/// The callback OPA calls for every registered function.
unsafe extern "C" fn dispatch(
    handle: u64,
    name: *const c_char,
    args: *const c_char,
) -> *mut c_void {
    // SAFETY: the bridge passes NUL-terminated strings valid for the call.
    let (name, args) = unsafe {
        (
            CStr::from_ptr(name).to_string_lossy().into_owned(),
            CStr::from_ptr(args).to_string_lossy().into_owned(),
        )
    };
    let function = functions()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(handle, name.clone()))
        .cloned();
    // A panic must not unwind into Go.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let function = function.ok_or_else(|| format!("{name} is not registered"))?;
        let args: Vec<Value> =
            serde_json::from_str(&args).map_err(|e| format!("{name}: arguments: {e}"))?;
        function(&args)
    }))
    .unwrap_or_else(|_| Err(format!("{name} panicked")));
    let answer = match outcome {
        Ok(result) => json!({ "result": result }),
        Err(error) => json!({ "error": error }),
    }
    .to_string();
    // The Go side copies the answer and frees it with the C allocator's free.
    // SAFETY: malloc of len + 1 bytes, filled and NUL-terminated below.
    unsafe {
        let buf = libc::malloc(answer.len() + 1) as *mut u8;
        if buf.is_null() {
            return std::ptr::null_mut();
        }
        std::ptr::copy_nonoverlapping(answer.as_ptr(), buf, answer.len());
        *buf.add(answer.len()) = 0;
        buf as *mut c_void
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Option<OpaEngine> {
        crate::require(
            available().ok(),
            "OPA's engine (libopabridge.so) is not installed",
        )?;
        Some(OpaEngine::new().expect("engine"))
    }

    #[test]
    fn policies_data_functions_and_errors_cross_the_bridge() {
        let Some(opa) = engine() else { return };
        opa.add_policy(
            "t.rego",
            "package t\n\nimport rego.v1\n\ndouble := twice(data.n)\n\nhello := greet(input.who)\n",
        )
        .unwrap();
        opa.add_data("", &json!({"n": 21})).unwrap();
        opa.register_function(
            "twice",
            1,
            Arc::new(|a: &[Value]| Ok(json!(a[0].as_i64().unwrap() * 2))),
        )
        .unwrap();
        opa.register_function(
            "greet",
            1,
            Arc::new(|a: &[Value]| match a[0].as_str() {
                Some(who) => Ok(json!(format!("hello {who}"))),
                None => Err("greet takes a string".into()),
            }),
        )
        .unwrap();
        assert_eq!(opa.eval("data.t.double", None).unwrap(), Some(json!(42)));
        assert_eq!(
            opa.eval("data.t.hello", Some(&json!({"who": "opa"})))
                .unwrap(),
            Some(json!("hello opa"))
        );
        assert_eq!(opa.eval("data.t.missing", None).unwrap(), None);
        // A function's error is an evaluation error, not a value.
        let err = opa
            .eval("data.t.hello", Some(&json!({"who": 1})))
            .unwrap_err();
        assert!(err.message.contains("greet takes a string"), "{err}");
        // A compile error names the file and line.
        opa.add_policy("bad.rego", "package bad\n\nimport rego.v1\n\nx := y\n")
            .unwrap();
        let err = opa.eval("data.t.double", None).unwrap_err();
        assert!(err.message.contains("bad.rego:5"), "{err}");
    }
}
