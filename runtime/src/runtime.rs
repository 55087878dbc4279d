//! [`Runtime`]: one engine and its settings, shared by every skill a host
//! loads, plus the clock that enforces timeouts.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use wasmtime::{Config, Engine};

use crate::capabilities::limits::{ByteSize, Limits};
use crate::error::LoadError;
use crate::package::Package;
use crate::skill::Skill;

/// How often the engine's epoch advances; timeouts are accurate to this.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks for a timeout (rounded up, plus the tick under way).
pub(crate) fn epoch_ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    u64::try_from(timeout.as_nanos().div_ceil(tick))
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// How a host sets up its [`Runtime`]. Defaults deny: no limit may exceed
/// [`Limits::default_ceiling`], components are at most 64 MiB.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where each skill's `{state}` folder lives (`<state_root>/<skill name>`).
    pub state_root: PathBuf,
    /// No skill's limits may exceed these; a manifest asking for more is refused at load.
    pub ceiling: Limits,
    /// The largest component file accepted.
    pub max_component_size: ByteSize,
}

impl RuntimeConfig {
    /// A configuration keeping skill state under `state_root`.
    pub fn new(state_root: impl Into<PathBuf>) -> Self {
        RuntimeConfig {
            state_root: state_root.into(),
            ceiling: Limits::default_ceiling(),
            max_component_size: ByteSize::mib(64),
        }
    }
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
    engine: Engine,
    config: RuntimeConfig,
    invocations: Arc<AtomicU64>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine (epoch interruption, component model) and
    /// starts the epoch clock, which stops when the engine is dropped.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 * 1024);
        let engine = Engine::new(&wasm).map_err(|e| LoadError::Setup {
            skill: "-".into(),
            reason: format!("cannot create the wasm engine: {e:#}"),
        })?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("skill-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| LoadError::Setup {
                skill: "-".into(),
                reason: format!("cannot start the timeout clock: {e}"),
            })?;
        Ok(Runtime {
            engine,
            config,
            invocations: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The configuration this runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Reads, validates and compiles the package at `path` (a folder or its SKILL.md).
    pub fn load(&self, path: impl AsRef<std::path::Path>) -> Result<Skill, LoadError> {
        self.load_package(Package::read(path.as_ref())?)
    }

    /// Compiles an already-read package.
    pub fn load_package(&self, package: Package) -> Result<Skill, LoadError> {
        Skill::load(
            &self.engine,
            &self.config,
            package,
            self.invocations.clone(),
        )
    }
}
