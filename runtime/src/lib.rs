//! A sandboxed runtime for AI-agent skills.
//!
//! A skill is a package: `SKILL.md` (instructions for the agent, read as
//! data and never executed), `skill.toml` (the capabilities it may use) and
//! a WASI component. A host creates one [`Runtime`], loads packages into
//! [`Skill`]s and invokes their commands; each invocation runs in a fresh
//! instance that can reach only what the manifest declares and the host
//! grants, within the manifest's limits. Everything else is denied, and every
//! use and denial is an [`AuditEvent`].
//!
//! The crate has one `unsafe` block: loading a compiled component from the
//! [`CompileCache`], after its checksum has been verified.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod admission;
mod audit;
mod bindings;
pub mod capabilities;
mod component;
mod config;
mod error;
mod files_on_disk;
mod heartbeat;
mod invocation;
pub mod package;
mod provenance;
mod runtime;
pub mod sarif;
pub mod script_runtime;
mod skill;
mod text_form;
pub mod trust;

pub use admission::{AdmitError, Admitted, TrustPolicy};
pub use audit::{AuditEvent, AuditKind, AuditSink, Decision};
pub use capabilities::Grants;
pub use capabilities::channels::{ChannelHandler, MemoryChannels, SentMessage};
pub use capabilities::folders::DEFAULT_FOLDER_CACHE_ENTRIES;
pub use capabilities::limits::{ByteSize, LimitKind, Limits, TimeLimit};
pub use capabilities::network::NetworkOverride;
pub use capabilities::secrets::{REDACTED, SecretMap, SecretSource};
pub use component::cache::{CacheStatus, CompileCache};
pub use component::{CommandInfo, ComponentFormat, ComponentKind};
pub use config::{RuntimeConfig, RuntimeConfigBuilder};
pub use error::{InvokeError, LoadError};
pub use heartbeat::HeartbeatRecord;
pub use invocation::{Failure, Invocation, Outcome, Usage};
pub use package::{FileFinding, Instructions, Manifest, Package, Schedule};
pub use runtime::Runtime;
pub use skill::Skill;
