//! Building Python and JavaScript skills: the pinned toolchain versions,
//! where `scripts/install-toolchains` puts them, the WIT a skill is built
//! against, the command line for each toolchain, and turning a toolchain's
//! failure into `file:line: message`. Plain `std` only, because
//! `conformance/artifacts/build.rs` builds its Python and JavaScript guests
//! with this very file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py release skills are built with (PyPI).
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// The `@bytecodealliance/componentize-js` release skills are built with (npm).
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The language a skill folder is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `Cargo.toml`: cargo, wasm32-wasip2.
    Rust,
    /// `app.py`: componentize-py.
    Python,
    /// `app.js`: ComponentizeJS.
    JavaScript,
}

impl Language {
    /// Recognises a skill folder by its entry file.
    pub fn detect(dir: &Path) -> Option<Language> {
        if dir.join("Cargo.toml").is_file() {
            Some(Language::Rust)
        } else if dir.join("app.py").is_file() {
            Some(Language::Python)
        } else if dir.join("app.js").is_file() {
            Some(Language::JavaScript)
        } else {
            None
        }
    }

    /// The argument `scripts/install-toolchains` takes for it.
    pub fn install_name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
        }
    }

    /// The toolchain and its pinned version, for progress lines.
    pub fn toolchain(self) -> String {
        match self {
            Language::Rust => "cargo (wasm32-wasip2)".into(),
            Language::Python => format!("componentize-py {COMPONENTIZE_PY}"),
            Language::JavaScript => {
                format!("@bytecodealliance/componentize-js {COMPONENTIZE_JS}")
            }
        }
    }
}

/// Where the pieces a build needs live: this repository's `wit/`,
/// `skill-sdk/` and `scripts/`, and the installed toolchains.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The repository root.
    pub repo: PathBuf,
    /// Where the toolchains are installed (`target/toolchains`).
    pub toolchains: PathBuf,
}

impl Layout {
    /// The layout of the repository at `repo`, with toolchains in
    /// `toolchains` or else `repo/target/toolchains`.
    pub fn new(repo: PathBuf, toolchains: Option<PathBuf>) -> Layout {
        let toolchains = toolchains.unwrap_or_else(|| repo.join("target/toolchains"));
        Layout { repo, toolchains }
    }

    /// The command that installs the toolchain for `language`.
    pub fn install_step(&self, language: Language) -> String {
        let script = self.repo.join("scripts/install-toolchains");
        if self.toolchains == self.repo.join("target/toolchains") {
            format!("{} {}", script.display(), language.install_name())
        } else {
            format!(
                "SKILL_RUN_TOOLCHAINS={} {} {}",
                self.toolchains.display(),
                script.display(),
                language.install_name()
            )
        }
    }

    fn stamp(&self, language: Language) -> PathBuf {
        match language {
            Language::Rust => PathBuf::new(),
            Language::Python => self
                .toolchains
                .join(format!("python/.componentize-py-{COMPONENTIZE_PY}")),
            Language::JavaScript => self
                .toolchains
                .join(format!("js/.componentize-js-{COMPONENTIZE_JS}")),
        }
    }

    /// `Ok` when the pinned toolchain for `language` is installed; else the
    /// error names the exact install step.
    pub fn check_installed(&self, language: Language) -> Result<(), String> {
        if language == Language::Rust || self.stamp(language).is_file() {
            return Ok(());
        }
        Err(format!(
            "{} is not installed in {}: run `{}` (it needs python3 and pip, or node and npm; it reaches only PyPI or npm)",
            language.toolchain(),
            self.toolchains.display(),
            self.install_step(language)
        ))
    }

    /// Copies the skill's `wit/*.wit` into `staging/wit/` and everything it
    /// may import into `staging/wit/deps/`: `skills:runtime` (channels) and
    /// WASI 0.2.12 (wasi:http and what it uses). Returns the staged folder
    /// and the world's name (the first `world NAME` in the skill's WIT).
    pub fn stage_wit(&self, skill: &Path, staging: &Path) -> Result<(PathBuf, String), String> {
        let wit = staging.join("wit");
        let deps = wit.join("deps");
        let _ = std::fs::remove_dir_all(&wit);
        std::fs::create_dir_all(&deps).map_err(|e| format!("creating {}: {e}", deps.display()))?;
        let own = skill.join("wit");
        let mut world = None;
        for file in wit_files(&own)? {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("reading {}: {e}", file.display()))?;
            if world.is_none() {
                world = world_name(&text);
            }
            copy(&file, &wit.join(file.file_name().unwrap_or_default()))?;
        }
        let world = world.ok_or_else(|| {
            format!(
                "{} declares no `world NAME {{ ... }}`: a skill's world lists its exported commands",
                own.display()
            )
        })?;
        copy(
            &self.repo.join("wit/skill.wit"),
            &deps.join("skills-runtime.wit"),
        )?;
        for file in wit_files(&self.repo.join("skill-sdk/wit/wasi"))? {
            copy(&file, &deps.join(file.file_name().unwrap_or_default()))?;
        }
        Ok((wit, world))
    }

    /// The toolchain command that builds `skill` (a Python or JavaScript
    /// skill folder) into `out`, with its WIT staged under `staging`.
    /// `network`: whether the manifest grants network (JavaScript's `fetch`
    /// imports wasi:http, which only loads with a network grant).
    pub fn command(
        &self,
        language: Language,
        skill: &Path,
        out: &Path,
        staging: &Path,
        network: bool,
    ) -> Result<Command, String> {
        self.check_installed(language)?;
        let (wit, world) = self.stage_wit(skill, staging)?;
        match language {
            Language::Rust => Err("Rust skills are built with cargo".into()),
            Language::Python => {
                let mut c = Command::new(self.toolchains.join("python/bin/componentize-py"));
                c.arg("-d")
                    .arg(&wit)
                    .args(["-w", &world, "componentize", "app", "-p"])
                    .arg(skill)
                    .arg("-p")
                    .arg(self.repo.join("skill-sdk/python"))
                    .arg("-o")
                    .arg(out)
                    // componentize-py prints a Rust backtrace under RUST_BACKTRACE.
                    .env("RUST_BACKTRACE", "0")
                    .env_remove("VIRTUAL_ENV");
                Ok(c)
            }
            Language::JavaScript => {
                let src = self.stage_js(skill, staging)?;
                let mut c = Command::new("node");
                c.arg(
                    self.toolchains
                        .join("js/node_modules/@bytecodealliance/componentize-js/src/cli.js"),
                )
                .arg(src.join("app.js"))
                .arg("--wit")
                .arg(&wit)
                .args(["-n", &world, "-o"])
                .arg(out);
                if !network {
                    c.args(["-d", "http", "-d", "fetch-event"]);
                } else {
                    c.args(["-d", "fetch-event"]);
                }
                Ok(c)
            }
        }
    }
}

impl Layout {
    /// Copies the skill's `.js` files to `staging/src/` and the SDK to
    /// `staging/src/skill-sdk/`, so `import ... from './skill-sdk/fs.js'`
    /// resolves wherever the skill lives.
    fn stage_js(&self, skill: &Path, staging: &Path) -> Result<PathBuf, String> {
        let src = staging.join("src");
        let _ = std::fs::remove_dir_all(&src);
        let sdk = src.join("skill-sdk");
        std::fs::create_dir_all(&sdk).map_err(|e| format!("creating {}: {e}", sdk.display()))?;
        for (from, to) in [
            (skill.to_path_buf(), &src),
            (self.repo.join("skill-sdk/js"), &sdk),
        ] {
            let entries =
                std::fs::read_dir(&from).map_err(|e| format!("reading {}: {e}", from.display()))?;
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                if path.is_file()
                    && path
                        .extension()
                        .is_some_and(|x| x == "js" || x == "mjs" || x == "ts")
                {
                    copy(&path, &to.join(path.file_name().unwrap_or_default()))?;
                }
            }
        }
        Ok(src)
    }
}

/// ComponentizeJS reports only "failed to parse JS source, encountered [N]
/// errors"; the parser it uses (oxc) gives the positions, so ask it.
const JS_SYNTAX_CHECK: &str = r#"
import { parseSync } from 'oxc-parser';
import { readFileSync } from 'node:fs';
for (const file of process.argv.slice(1)) {
  const code = readFileSync(file, 'utf8');
  for (const e of parseSync(file, code).errors) {
    const at = e.labels && e.labels[0] ? e.labels[0].start : 0;
    const before = code.slice(0, at);
    const line = before.split('\n').length;
    console.log(`${file}:${line}:${at - before.lastIndexOf('\n')}: SyntaxError: ${e.message}`);
  }
}
"#;

impl Layout {
    /// What to show for a failed build: [`explain_failure`], and for a
    /// JavaScript parse error each syntax error as `file:line:column`.
    pub fn explain(
        &self,
        language: Language,
        skill: &Path,
        staging: &Path,
        output: &str,
    ) -> String {
        let explained = explain_failure(language, skill, staging, output);
        if language != Language::JavaScript || !output.contains("failed to parse JS source") {
            return explained;
        }
        let src = staging.join("src");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "js" || x == "mjs"));
        files.sort();
        let checked = Command::new("node")
            .current_dir(self.toolchains.join("js"))
            .args(["--input-type=module", "-e", JS_SYNTAX_CHECK])
            .args(&files)
            .output();
        match checked {
            Ok(out) if !out.stdout.is_empty() => String::from_utf8_lossy(&out.stdout)
                .replace(&src.display().to_string(), &skill.display().to_string())
                .trim_end()
                .to_owned(),
            _ => explained,
        }
    }
}

fn wit_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wit") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{} has no .wit files", dir.display()));
    }
    Ok(files)
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

/// The name of the first world declared in WIT `text`.
pub fn world_name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("world ")?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        (!name.is_empty()).then_some(name)
    })
}

/// The part of a failed toolchain's output a skill author needs: the error
/// with the file and line in the skill folder (`app.py:3: NameError: ...`),
/// without the toolchain's own stack trace.
pub fn explain_failure(language: Language, skill: &Path, staging: &Path, output: &str) -> String {
    match language {
        Language::Python => explain_python(skill, output),
        Language::JavaScript => {
            let staged = staging.join("src").display().to_string();
            explain_js(
                skill,
                &output.replace(&staged, &skill.display().to_string()),
            )
        }
        Language::Rust => output.to_owned(),
    }
}

/// componentize-py runs the app at build time and reports Python errors as
/// a traceback whose paths start `/0/` (the first `-p` folder: the skill).
fn explain_python(skill: &Path, output: &str) -> String {
    // The interesting part comes before componentize-py's own chain.
    let head = output.split("\nCaused by:").next().unwrap_or(output);
    let head = head.split("\nStack backtrace:").next().unwrap_or(head);
    let lines: Vec<&str> = head.lines().collect();
    // The last frame in the skill's own files: `/0/...` is the first `-p`
    // folder (the skill) for runtime errors; syntax errors name the real path.
    let mut location = None;
    for line in &lines {
        let Some(at) = line.find("File \"") else {
            continue;
        };
        let Some((file, after)) = line[at + 6..].split_once('"') else {
            continue;
        };
        let path = match file.strip_prefix("/0/") {
            Some(relative) => skill.join(relative),
            None if Path::new(file).starts_with(skill) => PathBuf::from(file),
            None => continue,
        };
        let line_no: String = after
            .trim_start_matches(", line ")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        location = Some((path, line_no));
    }
    // The exception line: the last line that is not indented source.
    let message = lines
        .iter()
        .rev()
        .map(|l| l.trim_end())
        .find(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("Traceback"))
        .unwrap_or("")
        .trim_start_matches("AssertionError: ")
        .to_owned();
    match location {
        Some((file, line)) => format!("{}:{line}: {message}", file.display()),
        None => {
            // Not an error in the app (WIT, world, options): show the chain
            // without the stack trace.
            let mut text = output.split("\nStack backtrace:").next().unwrap_or(output);
            text = text.trim();
            text.replace("\"/0/", &format!("\"{}/", skill.display()))
        }
    }
}

/// ComponentizeJS reports syntax errors as `file:line:column: message` or
/// with an `Exception: ... at file:line:column` line; keep the lines that
/// name the source, then the first error line.
fn explain_js(skill: &Path, output: &str) -> String {
    let app = skill.join("app.js");
    let app = app.display().to_string();
    let mut keep: Vec<&str> = output
        .lines()
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("at ") && !t.contains("node_modules/")
        })
        .collect();
    keep.truncate(12);
    let text = keep.join("\n");
    if text.contains(&app) || text.contains("app.js") {
        text
    } else {
        format!("{app}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_names_are_found() {
        assert_eq!(
            world_name("package a:b;\n\n/// doc\nworld my-skill {\n}"),
            Some("my-skill".into())
        );
        assert_eq!(world_name("package a:b;\ninterface x {}"), None);
    }

    #[test]
    fn python_syntax_errors_become_file_and_line() {
        let out = "Traceback (most recent call last):\n  File \"/venv/bin/componentize-py\", line 8, in <module>\n    sys.exit(script())\nAssertionError:   File \"/skills/demo/app.py\", line 5\n    return f(\n            ^\nSyntaxError: '(' was never closed\n\n\nCaused by:\n    SyntaxError";
        assert_eq!(
            explain_python(Path::new("/skills/demo"), out),
            "/skills/demo/app.py:5: SyntaxError: '(' was never closed"
        );
    }

    #[test]
    fn python_tracebacks_become_file_and_line() {
        let out = "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nAssertionError: Traceback (most recent call last):\n  File \"/0/app.py\", line 3, in <module>\n    from x import y\nModuleNotFoundError: No module named 'x'\n\n\nCaused by:\n    ModuleNotFoundError: No module named 'x'\n\nStack backtrace:\n   0: anyhow";
        let got = explain_python(Path::new("/skills/demo"), out);
        assert_eq!(
            got,
            "/skills/demo/app.py:3: ModuleNotFoundError: No module named 'x'"
        );
    }
}
