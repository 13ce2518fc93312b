//! What bounds one evaluation (fuel, memory) and the `data` document, and the store limiter that
//! enforces the memory bound and remembers that it did.

use std::time::Duration;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Default fuel budget per evaluation: more than 10x [`MEASURED_VERIFY_FUEL`], the costliest
/// one-signature verify we measured, so that a request with a few signatures still fits while a
/// runaway module is stopped within about a second or two.
pub const DEFAULT_FUEL: u64 = 3_000_000_000;

/// Fuel one verify by `policy.wasm` took, data and input parsing included, for the costliest
/// generated case: an ES512 signature by a P-521 leaf under a P-384 root (RustCrypto's generic
/// P-521 arithmetic). For comparison: RSA-2048 PS256 self-signed 21 M, RSA-3072 PS384 chain 85 M,
/// P-256 ES256 chain 62 M, P-384 chain 216 M. `tests/verify_policy_wasm.rs` prints them and checks
/// the 10x headroom of [`DEFAULT_FUEL`].
pub const MEASURED_VERIFY_FUEL: u64 = 234_000_000;

/// Default wall-clock limit of one evaluation (an admission webhook must answer in seconds; the
/// costliest verify we measured takes well under half a second).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// How often the engine's epoch advances, the granularity of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default cap on an evaluation's linear memory: 256 MiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// How a [`PolicyModule`](crate::PolicyModule) bounds each evaluation, and the `data` document it
/// evaluates against.
///
/// ```no_run
/// use gatekeeper::HostOptions;
/// let module = HostOptions::new().fuel(50_000_000).memory_limit(64 << 20).load("dist/bundle/policy.wasm")?;
/// # Ok::<(), gatekeeper::HostError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HostOptions {
    pub(crate) fuel: u64,
    pub(crate) memory_limit: usize,
    pub(crate) deadline: Option<Duration>,
    pub(crate) data: Vec<u8>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            fuel: DEFAULT_FUEL,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            deadline: Some(DEFAULT_DEADLINE),
            data: b"{}".to_vec(),
        }
    }
}

impl HostOptions {
    /// The defaults: [`DEFAULT_FUEL`], [`DEFAULT_DEADLINE`], [`DEFAULT_MEMORY_LIMIT`], data `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fuel units one evaluation may burn (roughly one per wasm instruction), instantiation
    /// included. Past it the call fails with [`HostError::OutOfFuel`](crate::HostError::OutOfFuel).
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// Wall-clock time one evaluation may run (instantiation included), checked every
    /// [`EPOCH_TICK`]; `None` leaves only the fuel bound. Past it the call fails with
    /// [`HostError::Timeout`](crate::HostError::Timeout).
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Bytes of linear memory one evaluation may hold. Past it the call fails with
    /// [`HostError::MemoryLimit`](crate::HostError::MemoryLimit).
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The `data` document (as JSON text) that every evaluation sees; `{}` unless given.
    pub fn data_json(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// The `data` document as a JSON value.
    pub fn data(self, data: &serde_json::Value) -> Self {
        let text = serde_json::to_vec(data).expect("a serde_json::Value always serialises");
        self.data_json(text)
    }

    /// The configured fuel budget.
    pub fn fuel_limit(&self) -> u64 {
        self.fuel
    }

    /// The configured wall-clock deadline.
    pub fn deadline_limit(&self) -> Option<Duration> {
        self.deadline
    }

    /// The deadline in epoch ticks (at least one), or `None` for no deadline.
    pub(crate) fn deadline_ticks(&self) -> Option<u64> {
        self.deadline
            .map(|d| (d.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64)
    }

    /// The configured memory limit in bytes.
    pub fn memory_limit_bytes(&self) -> usize {
        self.memory_limit
    }
}

/// Raised (as a wasmtime error) when memory growth is refused, so that the call stops at once
/// with a cause we can name, instead of the module seeing `-1` and failing later in some
/// less telling way (an abort, an `unreachable`, or a loop until the fuel is gone).
#[derive(Debug)]
pub(crate) struct MemoryRefused {
    pub(crate) requested: usize,
}

impl std::fmt::Display for MemoryRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memory growth to {} bytes refused", self.requested)
    }
}

impl std::error::Error for MemoryRefused {}

/// `StoreLimits` with one instance, one memory and one table, plus a record of a refusal.
pub(crate) struct Budget {
    limits: StoreLimits,
    pub(crate) memory_limit: usize,
    /// The size asked for when growth was refused, if it was.
    pub(crate) refused: Option<usize>,
}

impl Budget {
    pub(crate) fn new(memory_limit: usize) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_limit)
            // OPA modules have one function table; a table that grows is not a policy's business.
            .table_elements(1 << 20)
            .instances(1)
            .memories(1)
            .tables(2)
            .build();
        Budget {
            limits,
            memory_limit,
            refused: None,
        }
    }
}

impl ResourceLimiter for Budget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.limits.memory_growing(current, desired, maximum)? {
            return Ok(true);
        }
        self.refused = Some(desired);
        Err(wasmtime::Error::new(MemoryRefused { requested: desired }))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
