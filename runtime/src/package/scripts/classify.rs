//! What kind of file this is, from its first bytes, its name and its
//! shebang: a script (and in which language), a native binary, a
//! WebAssembly file, an archive, or data.

use serde::Serialize;

/// A script's language.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// `.py`, or a `python` shebang.
    Python,
    /// `.js`, `.mjs`, `.cjs`, `.jsx`, or a `node` shebang.
    Javascript,
    /// `.ts`, `.mts`, `.cts`, `.tsx`, or a `bun`/`deno`/`tsx`/`ts-node` shebang.
    Typescript,
    /// `.sh`, `.bash`, `.zsh`, or a shell shebang.
    Shell,
    /// `.ps1`, `.psm1`.
    Powershell,
    /// `.bat`, `.cmd`.
    Batch,
    /// `.rb`.
    Ruby,
    /// `.pl`, `.pm`.
    Perl,
    /// `.php`.
    Php,
    /// `.lua`.
    Lua,
    /// `.applescript`, `.scpt`.
    Applescript,
    /// Another interpreter named by a shebang, or an executable file without one.
    Other(String),
}

impl Language {
    /// The name used in reports.
    pub fn name(&self) -> &str {
        match self {
            Language::Python => "Python",
            Language::Javascript => "JavaScript",
            Language::Typescript => "TypeScript",
            Language::Shell => "shell",
            Language::Powershell => "PowerShell",
            Language::Batch => "batch",
            Language::Ruby => "Ruby",
            Language::Perl => "Perl",
            Language::Php => "PHP",
            Language::Lua => "Lua",
            Language::Applescript => "AppleScript",
            Language::Other(name) => name,
        }
    }
}

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum FileKind {
    /// Source an interpreter runs.
    Script {
        /// Its language.
        language: Language,
        /// How that was decided: `extension`, `shebang` or `executable-bit`.
        detected_by: &'static str,
    },
    /// A native executable or library.
    Binary {
        /// `ELF`, `Mach-O`, `PE`, `Java class or Mach-O universal`.
        format: &'static str,
    },
    /// A WebAssembly module or component.
    Wasm,
    /// An archive: its contents are not inspected.
    Archive {
        /// `zip`, `gzip`, `tar`, `bzip2`, `xz`, `7z`, `zstd`, `rar`.
        format: &'static str,
    },
    /// Anything else: text or data no interpreter runs by itself.
    Data,
}

/// The first bytes read to classify a file.
pub const HEAD_BYTES: usize = 512;

fn magic(head: &[u8]) -> Option<FileKind> {
    let starts = |m: &[u8]| head.starts_with(m);
    let binary = |format| Some(FileKind::Binary { format });
    let archive = |format| Some(FileKind::Archive { format });
    if starts(b"\x7fELF") {
        return binary("ELF");
    }
    if starts(&[0xfe, 0xed, 0xfa, 0xce])
        || starts(&[0xfe, 0xed, 0xfa, 0xcf])
        || starts(&[0xce, 0xfa, 0xed, 0xfe])
        || starts(&[0xcf, 0xfa, 0xed, 0xfe])
    {
        return binary("Mach-O");
    }
    if starts(&[0xca, 0xfe, 0xba, 0xbe]) {
        return binary("Java class or Mach-O universal");
    }
    if starts(b"MZ") {
        return binary("PE");
    }
    if starts(b"\0asm") {
        return Some(FileKind::Wasm);
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        return archive("zip");
    }
    if starts(&[0x1f, 0x8b]) {
        return archive("gzip");
    }
    if starts(b"BZh") {
        return archive("bzip2");
    }
    if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return archive("xz");
    }
    if starts(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]) {
        return archive("7z");
    }
    if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return archive("zstd");
    }
    if starts(b"Rar!") {
        return archive("rar");
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return archive("tar");
    }
    None
}

fn by_extension(name: &str) -> Option<Language> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "py" | "pyw" => Language::Python,
        "js" | "mjs" | "cjs" | "jsx" => Language::Javascript,
        "ts" | "mts" | "cts" | "tsx" => Language::Typescript,
        "sh" | "bash" | "zsh" | "ksh" | "fish" => Language::Shell,
        "ps1" | "psm1" => Language::Powershell,
        "bat" | "cmd" => Language::Batch,
        "rb" => Language::Ruby,
        "pl" | "pm" => Language::Perl,
        "php" => Language::Php,
        "lua" => Language::Lua,
        "applescript" | "scpt" => Language::Applescript,
        _ => return None,
    })
}

fn by_shebang(head: &[u8]) -> Option<Language> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let mut program = words.next()?.rsplit('/').next()?.to_owned();
    if program == "env" {
        program = words.find(|w| !w.starts_with('-'))?.to_owned();
    }
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match base {
        "python" | "pypy" | "uv" => Language::Python,
        "node" | "nodejs" => Language::Javascript,
        "bun" | "deno" | "tsx" | "ts-node" => Language::Typescript,
        "sh" | "bash" | "zsh" | "ksh" | "dash" | "fish" => Language::Shell,
        "pwsh" | "powershell" => Language::Powershell,
        "ruby" => Language::Ruby,
        "perl" => Language::Perl,
        "php" => Language::Php,
        "lua" => Language::Lua,
        "osascript" => Language::Applescript,
        other => Language::Other(other.to_owned()),
    })
}

fn by_archive_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    [
        (".tar.gz", "gzip"),
        (".tgz", "gzip"),
        (".zip", "zip"),
        (".jar", "zip"),
        (".whl", "zip"),
        (".tar", "tar"),
        (".7z", "7z"),
        (".rar", "rar"),
    ]
    .into_iter()
    .find(|(ext, _)| lower.ends_with(ext))
    .map(|(_, format)| format)
}

/// Classifies a file from its name, its first bytes and whether it has an
/// executable bit. Magic numbers win over names: a `.txt` that is an ELF
/// binary is a binary.
pub fn classify(name: &str, head: &[u8], executable_bit: bool) -> FileKind {
    if let Some(kind) = magic(head) {
        return kind;
    }
    if let Some(language) = by_shebang(head) {
        return FileKind::Script {
            language,
            detected_by: "shebang",
        };
    }
    if let Some(language) = by_extension(name) {
        return FileKind::Script {
            language,
            detected_by: "extension",
        };
    }
    if let Some(format) = by_archive_name(name) {
        return FileKind::Archive { format };
    }
    if executable_bit {
        return FileKind::Script {
            language: Language::Other("unknown".into()),
            detected_by: "executable-bit",
        };
    }
    FileKind::Data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_beats_names_and_shebangs_beat_extensions() {
        assert_eq!(
            classify("notes.txt", b"\x7fELF\x02\x01", false),
            FileKind::Binary { format: "ELF" }
        );
        assert_eq!(
            classify("x.py", b"PK\x03\x04....", false),
            FileKind::Archive { format: "zip" }
        );
        assert_eq!(
            classify("run", b"#!/usr/bin/env -S python3 -u\nprint()", true),
            FileKind::Script {
                language: Language::Python,
                detected_by: "shebang"
            }
        );
        assert_eq!(
            classify("tool", b"#!/usr/bin/env bun\n", false),
            FileKind::Script {
                language: Language::Typescript,
                detected_by: "shebang"
            }
        );
        assert_eq!(
            classify("deploy.sh", b"set -e\n", false),
            FileKind::Script {
                language: Language::Shell,
                detected_by: "extension"
            }
        );
        assert_eq!(classify("README.md", b"# hi", false), FileKind::Data);
        assert_eq!(
            classify("a.wasm", b"\0asm\x01\0\0\0", false),
            FileKind::Wasm
        );
        assert_eq!(
            classify("bin", b"plain", true),
            FileKind::Script {
                language: Language::Other("unknown".into()),
                detected_by: "executable-bit"
            }
        );
    }
}
