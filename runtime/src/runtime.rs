//! [`Runtime`]: one engine and its settings, shared by every skill a host
//! loads, plus the clock that enforces timeouts.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::capabilities::folders::FolderCache;
use crate::capabilities::limits::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLE_ELEMENTS, MAX_TABLES};
use crate::config::RuntimeConfig;
use crate::error::LoadError;
use crate::package::Package;
use crate::skill::Skill;

/// The two engines of a runtime. WASI 0.2 components and adapted preview-1
/// modules run on `sync`, which has no async component model: with it on,
/// every call goes through wasmtime's concurrent-call machinery, which made
/// a typed hello about 40% slower. WASI 0.3 components and async exports
/// run on `concurrent`, which has it. A component is compiled for `sync`
/// first and for `concurrent` only when `sync` cannot take it.
#[derive(Clone)]
pub(crate) struct Engines {
    pub sync: Engine,
    pub concurrent: Engine,
}

/// How often the engine's epoch advances; timeouts are accurate to this.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks for a timeout (rounded up, plus the tick under way).
pub(crate) fn epoch_ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    u64::try_from(timeout.as_nanos().div_ceil(tick))
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// The fewest descriptors an invocation may hold open, however the
/// runtime-wide budget divides.
const MIN_DESCRIPTORS_PER_INVOCATION: u32 = 16;

/// Descriptors one invocation may hold open: its share of the runtime's budget.
pub(crate) fn descriptors_per_invocation(config: &RuntimeConfig) -> usize {
    let share = config.max_guest_descriptors() / config.max_concurrent_invocations().max(1);
    share.max(MIN_DESCRIPTORS_PER_INVOCATION) as usize
}

/// Bytes of each memory and table slot reset in place rather than decommitted.
const KEEP_RESIDENT: usize = 2 << 20;

/// The instance pool: every invocation in flight may use up to the fixed
/// caps (instances, memories, tables), so the pool holds that many for each
/// concurrent slot; memory and tables are reserved address space, touched
/// only when used, and reset (not unmapped) between invocations.
fn pool(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let slots = config.max_concurrent_invocations().max(1);
    let per_slot = |n: usize| slots.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_stacks(slots)
        .total_gc_heaps(slots)
        .total_core_instances(per_slot(MAX_INSTANCES))
        .max_core_instances_per_component(MAX_INSTANCES as u32)
        .total_memories(per_slot(MAX_MEMORIES))
        .max_memories_per_component(MAX_MEMORIES as u32)
        .max_memories_per_module(MAX_MEMORIES as u32)
        .total_tables(per_slot(MAX_TABLES))
        .max_tables_per_component(MAX_TABLES as u32)
        .max_tables_per_module(MAX_TABLES as u32)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_memory_size(usize::try_from(config.ceiling().memory.0).unwrap_or(usize::MAX))
        // Resetting a slot by madvise flushes every core's TLB, which made two
        // concurrent invocations no faster than one. Pages a skill dirtied
        // (found with PAGEMAP_SCAN where the kernel has it) are zeroed in
        // place instead, up to this much; decommits are batched.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto)
        .decommit_batch_size(16);
    pool
}

/// The embedding entry point: create one per host, load skills from it,
/// invoke them as often and as concurrently as needed.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use skill_runtime::{Invocation, Runtime, RuntimeConfig};
///
/// let runtime = Runtime::new(RuntimeConfig::new("/var/lib/my-agent/skill-state"))?;
/// let skill = runtime.load("examples/hello")?;
/// let outcome = skill.invoke(Invocation::new("greet").input(serde_json::json!({"name": "Ada"}))).await?;
/// println!("{:?}", outcome.result);
/// # Ok(()) }
/// ```
pub struct Runtime {
    engines: Engines,
    config: RuntimeConfig,
    invocations: Arc<AtomicU64>,
    slots: Arc<Semaphore>,
    folders: Arc<FolderCache>,
    pooled: bool,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine (component model, epoch interruption, a pooling
    /// instance allocator sized by [`RuntimeConfig::max_concurrent_invocations`])
    /// and starts the epoch clock, which stops when the engine is dropped.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let mut wasm = Config::new();
        let mut pooled = true;
        wasm.wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            .max_wasm_stack(512 * 1024)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&config)));
        let engine = match Engine::new(&wasm) {
            Ok(engine) => engine,
            // The pool reserves address space up front (terabytes, untouched);
            // where the system refuses that (`ulimit -v`, strict overcommit),
            // instances are allocated on demand instead: slower, same isolation.
            Err(refused) => {
                pooled = false;
                wasm.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&wasm).map_err(|e| LoadError::Setup {
                    skill: "-".into(),
                    reason: format!(
                        "cannot create the wasm engine: {e:#} (with the instance pool: {refused:#})"
                    ),
                })?
            }
        };
        // The async component model: WASI 0.3 components and async exports.
        // Its own pool of the same size (address space only; a WASI 0.3 hello
        // took 290 us with on-demand instances, 105 us pooled), with the same
        // fallback; the store's limiter enforces the same caps either way.
        let mut concurrent = Config::new();
        concurrent
            .wasm_component_model(true)
            .wasm_component_model_async(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 * 1024)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&config)));
        let concurrent = match Engine::new(&concurrent) {
            Ok(engine) => engine,
            Err(_) => {
                pooled = false;
                concurrent.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&concurrent).map_err(|e| LoadError::Setup {
                    skill: "-".into(),
                    reason: format!("cannot create the WASI 0.3 wasm engine: {e:#}"),
                })?
            }
        };
        let (weak, weak_concurrent) = (engine.weak(), concurrent.weak());
        std::thread::Builder::new()
            .name("skill-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    if let Some(engine) = weak_concurrent.upgrade() {
                        engine.increment_epoch();
                    }
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| LoadError::Setup {
                skill: "-".into(),
                reason: format!("cannot start the timeout clock: {e}"),
            })?;
        let slots = Arc::new(Semaphore::new(
            config.max_concurrent_invocations().max(1) as usize
        ));
        Ok(Runtime {
            engines: Engines {
                sync: engine,
                concurrent,
            },
            folders: Arc::new(FolderCache::new(config.folder_cache_entries())),
            config,
            invocations: Arc::new(AtomicU64::new(1)),
            slots,
            pooled,
        })
    }

    /// Whether both engines got their instance pool (address space reserved
    /// up front). `false` when the system refused the reservation and
    /// instances are allocated on demand: slower, same isolation.
    pub fn uses_instance_pool(&self) -> bool {
        self.pooled
    }

    /// The configuration this runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Reads, validates and compiles the package at `path` (a folder or its SKILL.md).
    pub fn load(&self, path: impl AsRef<std::path::Path>) -> Result<Skill, LoadError> {
        self.load_package(Package::read(path.as_ref())?)
    }

    /// Whether `skill`'s heartbeat is due at `now` (`None`: it has no `[schedule]`).
    pub fn heartbeat_due(&self, skill: &Skill, now: std::time::SystemTime) -> Option<bool> {
        crate::heartbeat::due(self.config.state_root(), skill, now)
    }

    /// How long until `skill`'s heartbeat is due (zero: now; `None`: no `[schedule]`).
    pub fn heartbeat_due_in(&self, skill: &Skill, now: std::time::SystemTime) -> Option<Duration> {
        crate::heartbeat::due_in(self.config.state_root(), skill, now)
    }

    /// The last recorded heartbeat of `skill`.
    pub fn last_heartbeat(&self, skill: &Skill) -> Option<crate::heartbeat::HeartbeatRecord> {
        crate::heartbeat::last(self.config.state_root(), skill.name())
    }

    /// Runs `skill`'s scheduled command once, with its normal grants and
    /// limits, and records the run. `Ok(None)` when it has no `[schedule]`.
    /// Refused when a read-write grant would let it change its own package.
    pub async fn run_heartbeat(
        &self,
        skill: &Skill,
        workspace: Option<PathBuf>,
    ) -> Result<Option<crate::Outcome>, crate::InvokeError> {
        crate::heartbeat::run(self.config.state_root(), skill, workspace).await
    }

    /// Compiles an already-read package.
    pub fn load_package(&self, package: Package) -> Result<Skill, LoadError> {
        let max = self.config.max_component_size().0;
        self.load_with(
            package,
            |package| {
                package
                    .read_component_file(max)
                    .map(|(path, file)| (path, file.bytes))
            },
            None,
        )
    }

    /// Loads `package` with the component bytes `read_component` gives.
    pub(crate) fn load_with(
        &self,
        package: Package,
        read_component: impl FnOnce(&Package) -> Result<(PathBuf, Arc<[u8]>), LoadError>,
        snapshot: Option<crate::script_runtime::PackageSnapshot>,
    ) -> Result<Skill, LoadError> {
        Skill::load(
            &self.engines,
            &self.config,
            package,
            read_component,
            snapshot,
            self.invocations.clone(),
            self.slots.clone(),
            self.folders.clone(),
        )
    }
}
