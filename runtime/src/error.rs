//! The runtime's errors. Each names the skill, the capability or file
//! involved, and the fix.

use std::path::PathBuf;

/// Why a package could not be read, validated or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is over its size limit.
    #[error("{} is larger than {limit} bytes, the most this runtime reads", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The path is not a package folder.
    #[error("{} is not a skill package: {reason}", path.display())]
    NotAPackage {
        /// The path given.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// `skill.toml` is invalid.
    #[error("invalid manifest {}:\n{message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// skill.toml and SKILL.md disagree on the name.
    #[error(
        "skill.toml names the skill `{manifest}` but SKILL.md names it `{instructions}`: make [skill].name in skill.toml equal SKILL.md's `name`"
    )]
    NameMismatch {
        /// `[skill].name`.
        manifest: String,
        /// SKILL.md's `name`.
        instructions: String,
    },
    /// A limit is above what this host allows.
    #[error(
        "skill `{skill}` asks for limits.{key} = {value}, above this host's ceiling of {ceiling}: lower it in skill.toml"
    )]
    AboveCeiling {
        /// The skill.
        skill: String,
        /// The `[limits]` key.
        key: &'static str,
        /// What the manifest asks for.
        value: String,
        /// What the host allows.
        ceiling: String,
    },
    /// The package has no skill.toml, so nothing to run.
    #[error(
        "skill `{skill}` is instruction-only (no skill.toml): it has no component to run; `skill-run inspect` shows its instructions"
    )]
    InstructionOnly {
        /// The skill.
        skill: String,
    },
    /// The manifest names a script runtime (`runtime = "python"`), which this
    /// version cannot run yet.
    #[error(
        "skill `{skill}` declares `runtime = \"{runtime}\"` in skill.toml: only `runtime = \"python\"` has a script runtime in this version of skill-run, so its scripts cannot run in the sandbox (and are not confined if an agent runs them itself); `skill-run inspect` lists what they would reach"
    )]
    ScriptRuntimeUnavailable {
        /// The skill.
        skill: String,
        /// `[skill].runtime`.
        runtime: crate::package::ScriptRuntime,
    },
    /// A `runtime = "python"` skill, but the host has no Python runner
    /// component (or cannot read it, or a grant collides with its folders).
    #[error("skill `{skill}` declares `runtime = \"python\"`: {reason}")]
    ScriptRunner {
        /// The skill.
        skill: String,
        /// What is missing and how to fix it.
        reason: String,
    },
    /// A package file resolves outside the package folder (through a symlink).
    #[error("{} resolves outside its package folder (a symlink?): a package may only contain its own files", path.display())]
    Outside {
        /// The file.
        path: PathBuf,
    },
    /// The component file does not exist.
    #[error("skill `{skill}`: component {} does not exist; build it (`skill-run build`) or fix [skill].component in skill.toml", path.display())]
    ComponentMissing {
        /// The skill.
        skill: String,
        /// The expected path.
        path: PathBuf,
    },
    /// The component path leaves the package through a symlink.
    #[error("skill `{skill}`: component {} resolves outside the package folder; a package may only run its own files", path.display())]
    ComponentOutside {
        /// The skill.
        skill: String,
        /// The path in the manifest.
        path: PathBuf,
    },
    /// The file is not a usable component.
    #[error("skill `{skill}`: {} is not a valid WebAssembly component: {reason}", path.display())]
    InvalidComponent {
        /// The skill.
        skill: String,
        /// The component file.
        path: PathBuf,
        /// What is wrong, and how to fix it where that is known.
        reason: String,
    },
    /// The component imports an interface its manifest does not grant.
    #[error(
        "skill `{skill}` imports `{import}`, which needs the `{key}` capability: grant it under [capabilities].{key} in skill.toml, or remove the import"
    )]
    NotGranted {
        /// The skill.
        skill: String,
        /// The import's full name.
        import: String,
        /// The manifest key that grants it.
        key: &'static str,
    },
    /// The component imports something skills never get.
    #[error("skill `{skill}` imports `{import}`: {why}")]
    Unavailable {
        /// The skill.
        skill: String,
        /// The import's full name.
        import: String,
        /// Why it is unavailable, and what to use instead.
        why: &'static str,
    },
    /// The runtime itself could not be set up (engine, linker).
    #[error("skill `{skill}`: {reason}")]
    Setup {
        /// The skill.
        skill: String,
        /// What failed.
        reason: String,
    },
}

/// Why an invocation could not start. (Once it starts, how it ended is an
/// [`crate::Outcome`], failures included.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// A call would let the skill write to its own package.
    #[error(
        "skill `{skill}` could change its own package through its read-write grant {guest} (on {folder}, which contains the package), so it was not run; give it a workspace folder that does not contain the package, or narrow the grant to read"
    )]
    SelfModification {
        /// The skill.
        skill: String,
        /// The grant's guest path.
        guest: String,
        /// The host folder the grant resolved to.
        folder: String,
    },
    /// A heartbeat ran but could not be recorded.
    #[error("skill `{skill}` heartbeat: {reason}")]
    Heartbeat {
        /// The skill.
        skill: String,
        /// What went wrong.
        reason: String,
    },
    /// No such command.
    #[error("skill `{skill}` has no command `{command}`; its commands are: {available}")]
    UnknownCommand {
        /// The skill.
        skill: String,
        /// The command asked for.
        command: String,
        /// The commands it has.
        available: String,
    },
    /// A command was needed but none was named.
    #[error("skill `{skill}` has several commands; name one of: {available}")]
    CommandRequired {
        /// The skill.
        skill: String,
        /// The commands it has.
        available: String,
    },
    /// The command cannot be called with JSON (resource types).
    #[error("skill `{skill}`: command `{command}` cannot be called from JSON: {reason}")]
    Uncallable {
        /// The skill.
        skill: String,
        /// The command.
        command: String,
        /// Why.
        reason: String,
    },
    /// The JSON input does not fit the command's parameters.
    #[error("skill `{skill}`: input for `{command}` does not match its schema: {reason}")]
    BadInput {
        /// The skill.
        skill: String,
        /// The command.
        command: String,
        /// What does not fit, with its JSON path.
        reason: String,
    },
    /// The host tried to grant more than the manifest declares.
    #[error(
        "skill `{skill}`: the host's grants are wider than skill.toml declares ({entry}); a host may only narrow grants"
    )]
    WidenedGrant {
        /// The skill.
        skill: String,
        /// The entry that widens.
        entry: String,
    },
    /// A `{workspace}` grant with no workspace given.
    #[error("skill `{skill}` has a {{workspace}} grant but the host gave no workspace folder")]
    NoWorkspace {
        /// The skill.
        skill: String,
    },
    /// A granted folder could not be opened inside its base.
    #[error("skill `{skill}`: cannot open {host} for {guest}: {reason}")]
    Preopen {
        /// The skill.
        skill: String,
        /// The guest path.
        guest: String,
        /// The host path template.
        host: String,
        /// Why.
        reason: String,
    },
}
