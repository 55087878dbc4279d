//! The `notes` example skill: plain `std::fs` on the folders its manifest
//! grants, a counter in its private state, and a message on a channel.

use std::fs;
use std::path::PathBuf;

skill_sdk::skill!("notes");

const NOTES: &str = "/notes";
const COUNTER: &str = "/state/notes-added";

struct Notes;

fn note_path(title: &str) -> Result<PathBuf, NotesError> {
    let ok = (1..=64).contains(&title.len())
        && title
            .chars()
            .all(|c| c.is_alphanumeric() || " -_".contains(c));
    if !ok {
        return Err(NotesError::InvalidTitle(title.to_owned()));
    }
    Ok(PathBuf::from(NOTES).join(format!("{title}.md")))
}

fn io(context: &str, e: std::io::Error) -> NotesError {
    NotesError::Io(format!("{context}: {e}"))
}

fn all_notes() -> Result<Vec<Note>, NotesError> {
    let mut notes = Vec::new();
    for entry in fs::read_dir(NOTES).map_err(|e| io(NOTES, e))? {
        let entry = entry.map_err(|e| io(NOTES, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(title) = name.strip_suffix(".md") {
            let body = fs::read_to_string(entry.path()).map_err(|e| io(&name, e))?;
            notes.push(Note {
                title: title.to_owned(),
                body,
            });
        }
    }
    notes.sort_by(|a, b| a.title.cmp(&b.title));
    Ok(notes)
}

impl Guest for Notes {
    fn add(title: String, body: String) -> Result<String, NotesError> {
        let path = note_path(&title)?;
        let author = std::env::var("NOTES_AUTHOR").unwrap_or_else(|_| "unknown".into());
        fs::write(&path, format!("{body}\n\n— {author}\n"))
            .map_err(|e| io(&path.display().to_string(), e))?;
        let count: u64 = fs::read_to_string(COUNTER)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
            + 1;
        fs::write(COUNTER, count.to_string()).map_err(|e| io(COUNTER, e))?;
        let message = format!("note added: {title} (note #{count} from this skill)");
        skill_sdk::channels::send("feed", &message).map_err(|e| NotesError::Io(e.message()))?;
        Ok(path.display().to_string())
    }

    fn titles() -> Result<Vec<String>, NotesError> {
        Ok(all_notes()?.into_iter().map(|n| n.title).collect())
    }

    fn get(title: String) -> Result<Note, NotesError> {
        let path = note_path(&title)?;
        match fs::read_to_string(&path) {
            Ok(body) => Ok(Note { title, body }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(NotesError::NotFound(title)),
            Err(e) => Err(io(&path.display().to_string(), e)),
        }
    }

    fn search(query: String) -> Result<Vec<Note>, NotesError> {
        let query = query.to_lowercase();
        Ok(all_notes()?
            .into_iter()
            .filter(|n| {
                n.title.to_lowercase().contains(&query) || n.body.to_lowercase().contains(&query)
            })
            .collect())
    }

    fn import_file(path: String, title: String) -> Result<String, NotesError> {
        let body = fs::read_to_string(&path).map_err(|e| io(&format!("reading {path}"), e))?;
        Self::add(title, body)
    }
}

export!(Notes);
