//! The packages `skill-run mcp` serves: finding them under the PATHs,
//! admitting them (`--trust`, `--lock`), loading them, and the tools and
//! instruction files each one offers. A snapshot is immutable; reloading
//! builds a new one and swaps it in.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rmcp::model::Tool;
use serde_json::{Value, json};
use skill_runtime::trust::{ApprovalCheck, Approvals, TrustedKeys};
use skill_runtime::{AdmitError, ComponentKind, Package, Runtime, Skill, TrustPolicy};

use super::annotations::annotations;
use super::naming::{CLI_COMMAND, Names, tool_name};
use super::pace::Pace;
use super::results::{Shape, output_schema};
use super::wit_docs;

/// The largest file offered as an instruction resource.
const MAX_RESOURCE_BYTES: u64 = 1024 * 1024;

/// Names SKILL.md may have, in the order they are looked for.
const SKILL_MD_NAMES: &[&str] = &["SKILL.md", "Skill.md", "skill.md"];

/// `--trust` and `--lock`, applied to every package at start and on every
/// change.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Packages must be signed by one of these (when not empty).
    pub keys: Option<TrustedKeys>,
    /// Packages must be approved in this lock file.
    pub lock: Option<PathBuf>,
    /// With `lock`: refuse any change since approval.
    pub frozen: bool,
}

impl Policy {
    /// The library's policy for one load: the lock file is read again each
    /// time, so an approval recorded while serving counts at the next reload.
    fn for_load(&self) -> Result<TrustPolicy, String> {
        let mut policy = TrustPolicy::default();
        if let Some(keys) = &self.keys {
            policy = policy.signed_by(keys.clone());
        }
        if let Some(lock) = &self.lock {
            let approvals = Approvals::open(lock).map_err(|e| e.to_string())?;
            policy = policy.approved_in(approvals).frozen(self.frozen);
        }
        Ok(policy)
    }
}

/// One tool: a command of a loaded skill.
#[derive(Debug)]
pub struct ToolEntry {
    /// What `tools/list` shows.
    pub tool: Tool,
    /// The skill that runs it.
    pub skill: Skill,
    /// The command (`None`: the `wasi:cli/command`'s `main`).
    pub command: Option<String>,
    /// How results are shaped to match `outputSchema`.
    pub shape: Shape,
    /// How quick its calls have been (where the next one runs).
    pub pace: Pace,
}

/// A file offered to the client as an instruction resource.
#[derive(Debug, Clone)]
pub struct ServedFile {
    /// Its path in the package, `/`-separated (`SKILL.md` first).
    pub path: String,
    /// Its bytes, read when the package was loaded.
    pub bytes: Arc<[u8]>,
}

/// One package as served.
#[derive(Debug)]
pub struct Served {
    /// The package folder.
    pub dir: PathBuf,
    /// The skill's name.
    pub name: String,
    /// SKILL.md's description.
    pub description: String,
    /// Its tools (none for an instruction-only skill).
    pub tools: Vec<Arc<ToolEntry>>,
    /// SKILL.md and the files it references.
    pub files: Vec<ServedFile>,
}

impl Served {
    /// The URI of one of its files: `skill://<name>/<path>`.
    pub fn uri(&self, path: &str) -> String {
        format!("skill://{}/{path}", self.name)
    }
}

/// Everything served at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Served packages by folder.
    pub packages: BTreeMap<PathBuf, Arc<Served>>,
    /// Tools by name.
    pub tools: HashMap<String, Arc<ToolEntry>>,
}

/// Whether `dir` is a package folder: it holds SKILL.md or skill.toml.
fn is_package(dir: &Path) -> bool {
    SKILL_MD_NAMES
        .iter()
        .chain(&["skill.toml"])
        .any(|name| dir.join(name).is_file())
}

/// The package folders under the PATHs: each PATH that is a package, else
/// its subfolders that are (sorted). A PATH that does not exist is skipped
/// here; `start` refuses it.
pub fn discover(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        if is_package(path) {
            found.push(path.clone());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|p| is_package(p))
            .collect();
        dirs.sort();
        found.extend(dirs);
    }
    found
}

/// Reads a regular UTF-8 file inside `root` (no symlink out, at most
/// [`MAX_RESOURCE_BYTES`]): instructions are text.
fn read_inside(root: &Path, relative: &str) -> Option<Vec<u8>> {
    let root = root.canonicalize().ok()?;
    let path = root.join(relative).canonicalize().ok()?;
    if !path.starts_with(&root) {
        return None;
    }
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_RESOURCE_BYTES {
        return None;
    }
    std::fs::read(&path)
        .ok()
        .filter(|bytes| std::str::from_utf8(bytes).is_ok())
}

/// SKILL.md (served as `SKILL.md` whatever its case on disk) and every file
/// it references that lies inside the package.
fn instruction_files(dir: &Path, package: &Package) -> Vec<ServedFile> {
    let mut files = Vec::new();
    if let Some(bytes) = SKILL_MD_NAMES.iter().find_map(|n| read_inside(dir, n)) {
        files.push(ServedFile {
            path: "SKILL.md".into(),
            bytes: bytes.into(),
        });
    }
    for reference in &package.instructions.body.references {
        let path = reference.path.trim_start_matches("./").to_owned();
        if path.is_empty() || files.iter().any(|f| f.path == path) {
            continue;
        }
        if let Some(bytes) = read_inside(dir, &path) {
            files.push(ServedFile {
                path,
                bytes: bytes.into(),
            });
        }
    }
    files
}

fn tool_description(
    skill: &str,
    command: &str,
    docs: Option<&String>,
    skill_description: &str,
) -> String {
    let lead = match docs {
        Some(docs) => docs.trim().to_owned(),
        None => skill_description.trim().to_owned(),
    };
    format!(
        "{lead}\n\n(Command `{command}` of skill `{skill}`, run in a sandbox limited to its manifest's grants.)"
    )
}

/// The tools of a loaded skill.
fn tools_of(skill: &Skill, description: &str) -> Result<Vec<Arc<ToolEntry>>, String> {
    let name = skill.name().to_owned();
    let hints = annotations(&skill.manifest().grants);
    if skill.kind() == ComponentKind::Cli {
        let tool_name = tool_name(&name, CLI_COMMAND)?;
        let schema = json!({"type": "object"});
        let Value::Object(schema) = schema else {
            unreachable!("an object literal")
        };
        let tool = Tool::new(
            tool_name,
            format!(
                "{}\n\n(Skill `{name}`: a command-line program that gets the arguments object as JSON on stdin; run in a sandbox limited to its manifest's grants.)",
                description.trim()
            ),
            Arc::new(schema),
        )
        .with_annotations(hints);
        return Ok(vec![Arc::new(ToolEntry {
            tool,
            skill: skill.clone(),
            command: None,
            shape: Shape::Free,
            pace: Pace::default(),
        })]);
    }
    let docs = wit_docs::command_docs(skill);
    let mut tools = Vec::new();
    for command in skill.commands() {
        if let Some(why) = &command.uncallable {
            say_err!(
                "skill-run mcp: skill `{name}` command `{}` is not offered as a tool: {why}",
                command.name
            );
            continue;
        }
        let Value::Object(input) = command.input_schema.clone() else {
            return Err(format!(
                "command `{}` has an input schema that is not an object",
                command.name
            ));
        };
        let (output, shape) = output_schema(&command.output_schema);
        let tool = Tool::new(
            tool_name(&name, &command.name)?,
            tool_description(&name, &command.name, docs.get(&command.name), description),
            Arc::new(input),
        )
        .with_raw_output_schema(Arc::new(output))
        .with_annotations(hints.clone());
        tools.push(Arc::new(ToolEntry {
            tool,
            skill: skill.clone(),
            command: Some(command.name),
            shape,
            pace: Pace::default(),
        }));
    }
    Ok(tools)
}

/// Admits and loads one package. `Err` is the reason it is not served.
pub fn load(runtime: &Runtime, dir: &Path, policy: &Policy) -> Result<Served, String> {
    // Read, checked and loaded in one call: what is served is what was checked.
    let admitted = runtime
        .admit(dir, &policy.for_load()?)
        .map_err(|e| match e {
            AdmitError::Load(e) => format!("{e:#}"),
            refused => crate::trust::explain(&refused),
        })?;
    let package = admitted.package;
    if let Some(ApprovalCheck::Changed { approved, now }) = &admitted.approval {
        say_err!(
            "skill-run mcp: note: skill `{}` changed since it was approved ({approved} -> {now}) but asks for nothing new",
            package.name()
        );
    }
    let name = package.name();
    let description = package
        .instructions
        .frontmatter
        .description
        .clone()
        .unwrap_or_default();
    let files = instruction_files(dir, &package);
    let tools = match &admitted.skill {
        None => Vec::new(),
        Some(skill) => tools_of(skill, &description)?,
    };
    Ok(Served {
        dir: dir.to_path_buf(),
        name,
        description,
        tools,
        files,
    })
}

/// Builds a snapshot from loaded packages, refusing any package whose tool
/// names or skill name clash with one earlier in the list. Returns the
/// refused folders with their reasons.
pub fn assemble_shared(packages: Vec<Arc<Served>>) -> (Snapshot, Vec<(PathBuf, String)>) {
    let mut snapshot = Snapshot::default();
    let mut names = Names::default();
    let mut skills: HashMap<String, PathBuf> = HashMap::new();
    let mut refused = Vec::new();
    for served in packages {
        if let Some(other) = skills.get(&served.name) {
            refused.push((
                served.dir.clone(),
                format!(
                    "another package, {}, is also named `{}`",
                    other.display(),
                    served.name
                ),
            ));
            continue;
        }
        // Claim every name first, so a package is served whole or not at all.
        let mut trial = names.clone();
        let clash = served.tools.iter().find_map(|t| {
            let owner = format!(
                "skill `{}` command `{}` ({})",
                served.name,
                t.command.as_deref().unwrap_or(CLI_COMMAND),
                served.dir.display()
            );
            trial.claim(&t.tool.name, &owner).err()
        });
        match clash {
            Some(reason) => refused.push((served.dir.clone(), reason)),
            None => {
                names = trial;
                skills.insert(served.name.clone(), served.dir.clone());
                for tool in &served.tools {
                    snapshot
                        .tools
                        .insert(tool.tool.name.to_string(), tool.clone());
                }
                snapshot.packages.insert(served.dir.clone(), served);
            }
        }
    }
    (snapshot, refused)
}

/// The current snapshot, shared by the server and the watcher.
#[derive(Debug, Default)]
pub struct Catalog {
    current: RwLock<Arc<Snapshot>>,
}

impl Catalog {
    /// A catalog serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Catalog {
        Catalog {
            current: RwLock::new(Arc::new(snapshot)),
        }
    }

    /// What is served now.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves `snapshot` from now on.
    pub fn replace(&self, snapshot: Snapshot) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }
}
