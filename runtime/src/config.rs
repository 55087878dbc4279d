//! [`RuntimeConfig`]: how a host sets up its [`crate::Runtime`], built with
//! [`RuntimeConfigBuilder`], whose defaults deny.

use std::path::{Path, PathBuf};

use crate::capabilities::folders::DEFAULT_FOLDER_CACHE_ENTRIES;
use crate::capabilities::limits::{ByteSize, Limits};
use crate::component::cache::CompileCache;

/// How a host sets up its [`crate::Runtime`]: made by
/// [`RuntimeConfig::builder`] (every default is listed there) or
/// [`RuntimeConfig::new`] (all defaults), read through its getters.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    state_root: PathBuf,
    ceiling: Limits,
    max_component_size: ByteSize,
    compile_cache: Option<CompileCache>,
    max_concurrent_invocations: u32,
    blocking_file_io: bool,
    folder_cache_entries: usize,
    max_guest_descriptors: u32,
    python_runner: Option<PathBuf>,
}

/// Builds a [`RuntimeConfig`]. Starting from [`RuntimeConfig::builder`], the
/// defaults are:
///
/// | setting | default |
/// |---|---|
/// | [`ceiling`](Self::ceiling) | [`Limits::default_ceiling`]: no skill may ask for more |
/// | [`max_component_size`](Self::max_component_size) | 64 MiB |
/// | [`compile_cache`](Self::compile_cache) | none: every load compiles |
/// | [`max_concurrent_invocations`](Self::max_concurrent_invocations) | 128 |
/// | [`blocking_file_io`](Self::blocking_file_io) | on |
/// | [`folder_cache_entries`](Self::folder_cache_entries) | [`DEFAULT_FOLDER_CACHE_ENTRIES`] |
/// | [`max_guest_descriptors`](Self::max_guest_descriptors) | 16,384 |
/// | [`python_runner`](Self::python_runner) | none: `runtime = "python"` skills are refused at load |
///
/// ```
/// use skill_runtime::{ByteSize, RuntimeConfig};
///
/// let config = RuntimeConfig::builder("/var/lib/my-agent/skill-state")
///     .max_component_size(ByteSize::mib(16))
///     .max_concurrent_invocations(8)
///     .build();
/// assert_eq!(config.max_concurrent_invocations(), 8);
/// assert!(config.compile_cache().is_none());
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RuntimeConfigBuilder {
    config: RuntimeConfig,
}

impl RuntimeConfigBuilder {
    /// No skill's limits may exceed these; a manifest asking for more is
    /// refused at load. Default [`Limits::default_ceiling`].
    pub fn ceiling(mut self, ceiling: Limits) -> Self {
        self.config.ceiling = ceiling;
        self
    }

    /// The largest component file accepted. Default 64 MiB.
    pub fn max_component_size(mut self, size: ByteSize) -> Self {
        self.config.max_component_size = size;
        self
    }

    /// Where compiled components are kept between loads; `None` compiles
    /// every load. Default `None`. See [`CompileCache`].
    pub fn compile_cache(mut self, cache: Option<CompileCache>) -> Self {
        self.config.compile_cache = cache;
        self
    }

    /// Invocations that may run at once across all skills of the runtime;
    /// more wait for a slot. The engine's instance pool is sized for this
    /// many invocations at their fixed caps, so it can never run dry.
    /// Default 128.
    pub fn max_concurrent_invocations(mut self, n: u32) -> Self {
        self.config.max_concurrent_invocations = n;
        self
    }

    /// Run a skill's filesystem calls on the invoking thread instead of
    /// hopping to tokio's blocking pool: several times faster for small
    /// reads, but a slow disk then blocks that executor thread. Turn it off
    /// when the host's executor must never block. Default on.
    pub fn blocking_file_io(mut self, on: bool) -> Self {
        self.config.blocking_file_io = on;
        self
    }

    /// How many checked `{workspace}` folders stay open between invocations
    /// (each holds one or two descriptors), so a call does not open and
    /// check its folders again while their paths still name the same
    /// folders; 0 opens them for every call. A folder kept open cannot be
    /// unmounted until it is dropped from here or the runtime goes.
    /// Default [`DEFAULT_FOLDER_CACHE_ENTRIES`].
    pub fn folder_cache_entries(mut self, n: usize) -> Self {
        self.config.folder_cache_entries = n;
        self
    }

    /// Files and folders guests may hold open at once across the runtime.
    /// Each invocation may hold this divided by
    /// [`max_concurrent_invocations`](Self::max_concurrent_invocations) (at
    /// least 16), so even a full pool of hostile invocations stays within
    /// it; past that an open fails with `quota` (EDQUOT) until the guest
    /// closes something. Default 16,384.
    pub fn max_guest_descriptors(mut self, n: u32) -> Self {
        self.config.max_guest_descriptors = n;
        self
    }

    /// The Python runner component that `runtime = "python"` skills run in
    /// (built from `script-runner/python` with componentize-py); `None`
    /// refuses such skills at load, saying that no runner is configured.
    /// Default `None`.
    pub fn python_runner(mut self, path: Option<PathBuf>) -> Self {
        self.config.python_runner = path;
        self
    }

    /// The configuration.
    pub fn build(self) -> RuntimeConfig {
        self.config
    }
}

impl RuntimeConfig {
    /// A builder keeping skill state under `state_root`
    /// (`<state_root>/<skill name>` is each skill's `{state}`), every other
    /// setting at its default (listed on [`RuntimeConfigBuilder`]).
    pub fn builder(state_root: impl Into<PathBuf>) -> RuntimeConfigBuilder {
        RuntimeConfigBuilder {
            config: RuntimeConfig {
                state_root: state_root.into(),
                ceiling: Limits::default_ceiling(),
                max_component_size: ByteSize::mib(64),
                compile_cache: None,
                max_concurrent_invocations: 128,
                blocking_file_io: true,
                folder_cache_entries: DEFAULT_FOLDER_CACHE_ENTRIES,
                max_guest_descriptors: 16_384,
                python_runner: None,
            },
        }
    }

    /// A configuration keeping skill state under `state_root`, every other
    /// setting at its default.
    pub fn new(state_root: impl Into<PathBuf>) -> Self {
        RuntimeConfig::builder(state_root).build()
    }

    /// The same configuration running `runtime = "python"` skills in the
    /// runner component at `path`.
    pub fn with_python_runner(mut self, path: impl Into<PathBuf>) -> Self {
        self.python_runner = Some(path.into());
        self
    }

    /// The same configuration keeping compiled components in `dir`.
    pub fn with_compile_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.compile_cache = Some(CompileCache::new(dir));
        self
    }

    /// Where each skill's `{state}` folder lives (`<state_root>/<skill name>`).
    pub fn state_root(&self) -> &Path {
        &self.state_root
    }

    /// No skill's limits may exceed these.
    pub fn ceiling(&self) -> &Limits {
        &self.ceiling
    }

    /// The largest component file accepted.
    pub fn max_component_size(&self) -> ByteSize {
        self.max_component_size
    }

    /// Where compiled components are kept, if anywhere.
    pub fn compile_cache(&self) -> Option<&CompileCache> {
        self.compile_cache.as_ref()
    }

    /// Invocations that may run at once across all skills.
    pub fn max_concurrent_invocations(&self) -> u32 {
        self.max_concurrent_invocations
    }

    /// Whether skills' filesystem calls run on the invoking thread.
    pub fn blocking_file_io(&self) -> bool {
        self.blocking_file_io
    }

    /// How many checked `{workspace}` folders stay open between invocations.
    pub fn folder_cache_entries(&self) -> usize {
        self.folder_cache_entries
    }

    /// Files and folders guests may hold open at once across the runtime.
    pub fn max_guest_descriptors(&self) -> u32 {
        self.max_guest_descriptors
    }

    /// The Python runner component for `runtime = "python"` skills, if any.
    pub fn python_runner(&self) -> Option<&Path> {
        self.python_runner.as_deref()
    }
}
