//! [`Skill`]: a loaded, compiled package with its per-skill linker, ready to
//! be invoked many times, concurrently.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;
use wasmtime::component::{Component, InstancePre};
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::capabilities::capability::{LinkFor, build_linker};
use crate::capabilities::folders::FolderCache;
use crate::capabilities::limits::Limits;
use crate::capabilities::state::StateStore;
use crate::component::cache::CacheStatus;
use crate::component::{self, Command, CommandInfo, ComponentFormat, ComponentKind};
use crate::config::RuntimeConfig;
use crate::error::{InvokeError, LoadError};
use crate::invocation::state::InvocationState;
use crate::invocation::{self, Invocation, Outcome};
use crate::package::{Manifest, Package};
use crate::runtime::Engines;
use crate::script_runtime::PackageSnapshot;

pub(crate) struct SkillInner {
    pub name: Arc<str>,
    pub package: Package,
    pub manifest: Manifest,
    pub limits: Limits,
    pub component: Component,
    pub pre: InstancePre<InvocationState>,
    pub cli_pre: Option<CommandPre<InvocationState>>,
    /// For a WASI 0.3 `wasi:cli/command`: its async `run`.
    pub cli03_pre: Option<wasmtime_wasi::p3::bindings::CommandPre<InvocationState>>,
    pub kind: ComponentKind,
    pub format: ComponentFormat,
    pub commands: Vec<Command>,
    pub imports: Vec<String>,
    pub denied_imports: Vec<String>,
    pub cache: CacheStatus,
    pub state: StateStore,
    pub invocations: Arc<AtomicU64>,
    pub slots: Arc<Semaphore>,
    pub blocking_file_io: bool,
    /// Files and folders one invocation may hold open (its share of the runtime's budget).
    pub max_descriptors: usize,
    /// Checked `{workspace}` folders, shared by the runtime's skills.
    pub folders: Arc<FolderCache>,
    /// For a script skill: the private copy of its package that its
    /// scripts run from (see [`crate::script_runtime::PackageSnapshot`]).
    pub script_package: Option<Arc<PackageSnapshot>>,
}

/// A loaded skill. Cheap to clone; clones share the compiled component.
#[derive(Clone)]
pub struct Skill {
    inner: Arc<SkillInner>,
}

impl std::fmt::Debug for Skill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skill")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

impl Skill {
    /// Validates `package` against the host's settings and compiles the
    /// component bytes `read_component` gives (asked for only once the package
    /// passed its checks, so the order of errors stays the same). A script
    /// skill runs from `snapshot`, the copy of its package that admission
    /// checked, or from a copy taken here.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
        engines: &Engines,
        config: &RuntimeConfig,
        package: Package,
        read_component: impl FnOnce(&Package) -> Result<(PathBuf, Arc<[u8]>), LoadError>,
        snapshot: Option<PackageSnapshot>,
        invocations: Arc<AtomicU64>,
        slots: Arc<Semaphore>,
        folders: Arc<FolderCache>,
    ) -> Result<Skill, LoadError> {
        let name = package.name();
        let manifest = package.manifest.clone().ok_or(LoadError::InstructionOnly {
            skill: name.clone(),
        })?;
        if let Some(md_name) = package.instructions.name()
            && md_name != manifest.name.as_str()
        {
            return Err(LoadError::NameMismatch {
                manifest: manifest.name.to_string(),
                instructions: md_name.to_owned(),
            });
        }
        if let Some((key, value, ceiling)) = manifest.limits.first_above(config.ceiling()) {
            return Err(LoadError::AboveCeiling {
                skill: name,
                key,
                value,
                ceiling,
            });
        }
        // A script skill runs in the host's runner; any other runs its own component.
        let (path, bytes) = if crate::script_runtime::is_script(&manifest) {
            crate::script_runtime::runner(&package, &manifest, config)?
        } else {
            read_component(&package)?
        };
        let script_package = match snapshot {
            Some(snapshot) => Some(Arc::new(snapshot)),
            None if crate::script_runtime::is_script(&manifest) => {
                Some(Arc::new(PackageSnapshot::take(&name, &package.root)?))
            }
            None => None,
        };
        let compiled = component::compile(
            engines,
            config.compile_cache(),
            &name,
            &path,
            &bytes,
            &manifest.grants,
            crate::script_runtime::is_script(&manifest),
        )?;
        let linker = build_linker(
            compiled.component.engine(),
            &LinkFor {
                grants: &manifest.grants,
                concurrent: compiled.concurrent,
                script: crate::script_runtime::is_script(&manifest),
            },
        )
        .map_err(|e| LoadError::Setup {
            skill: name.clone(),
            reason: format!("cannot build the linker: {e:#}"),
        })?;
        let pre = linker.instantiate_pre(&compiled.component).map_err(|e| {
            LoadError::InvalidComponent {
                skill: name.clone(),
                path: path.clone(),
                reason: format!(
                    "its imports cannot be satisfied: {}",
                    component::first_line(&format!("{e:#}"))
                ),
            }
        })?;
        let cli03_pre = match compiled.kind {
            ComponentKind::Cli if compiled.run_is_async => Some(
                wasmtime_wasi::p3::bindings::CommandPre::new(pre.clone()).map_err(|e| {
                    LoadError::InvalidComponent {
                        skill: name.clone(),
                        path: path.clone(),
                        reason: format!("its wasi:cli/run@0.3 export has the wrong shape: {e:#}"),
                    }
                })?,
            ),
            _ => None,
        };
        let cli_pre = match compiled.kind {
            ComponentKind::Cli if compiled.run_is_async => None,
            ComponentKind::Cli => {
                Some(
                    CommandPre::new(pre.clone()).map_err(|e| LoadError::InvalidComponent {
                        skill: name.clone(),
                        path: path.clone(),
                        reason: format!("its wasi:cli/run export has the wrong shape: {e:#}"),
                    })?,
                )
            }
            ComponentKind::Typed => None,
        };
        let state = StateStore::new(
            config.state_root().join(manifest.name.as_str()),
            config.ceiling().timeout.0,
        );
        Ok(Skill {
            inner: Arc::new(SkillInner {
                name: name.into(),
                limits: manifest.limits,
                manifest,
                package,
                component: compiled.component,
                pre,
                cli_pre,
                cli03_pre,
                kind: compiled.kind,
                format: compiled.format,
                commands: compiled.commands,
                imports: compiled.imports,
                denied_imports: compiled.denied_imports,
                cache: compiled.cache,
                state,
                invocations,
                slots,
                blocking_file_io: config.blocking_file_io(),
                max_descriptors: crate::runtime::descriptors_per_invocation(config),
                folders,
                script_package,
            }),
        })
    }

    /// The skill's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The package it was loaded from.
    pub fn package(&self) -> &Package {
        &self.inner.package
    }

    /// Its validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// How its component is called.
    pub fn kind(&self) -> ComponentKind {
        self.inner.kind
    }

    /// What its executable is: a WASI 0.2 component, a preview-1 core
    /// module (adapted at load) or a WASI 0.3 component.
    pub fn format(&self) -> ComponentFormat {
        self.inner.format
    }

    /// Its commands with their JSON Schemas (empty for a `wasi:cli/command`,
    /// which takes any command name).
    pub fn commands(&self) -> Vec<CommandInfo> {
        self.inner.commands.iter().map(|c| c.info.clone()).collect()
    }

    /// What the compile cache did when it was loaded.
    pub fn cache_status(&self) -> &CacheStatus {
        &self.inner.cache
    }

    /// The interfaces its component imports, each granted.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// The interfaces its component imports that are linked but whose
    /// every operation is denied and audited (`wasi:sockets`: raw sockets are
    /// never granted; see [`crate::capabilities::sockets`]).
    pub fn denied_imports(&self) -> &[String] {
        &self.inner.denied_imports
    }

    /// The folder holding its committed `{state}` (created on first use).
    /// Changes land here only when an invocation succeeds.
    pub fn state_dir(&self) -> std::io::Result<PathBuf> {
        self.inner.state.current()
    }

    /// Runs one command in a fresh instance. `Err` means the call could not
    /// start (unknown command, bad input, widened grants); once started,
    /// every ending, failures included, is an [`Outcome`].
    pub async fn invoke(&self, request: Invocation) -> Result<Outcome, InvokeError> {
        let id = self.inner.invocations.fetch_add(1, Ordering::Relaxed);
        invocation::run(&self.inner, request, id).await
    }
}
