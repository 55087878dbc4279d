//! The one sanitiser for text printed for a person (`inspect`, `check`,
//! `approve`, `verify`, `diff`, `run`'s captured output, errors). A package
//! controls much of that text (frontmatter, names, file names, manifest
//! values), and a terminal obeys what it contains: ESC sequences move the
//! cursor and erase lines, CR returns to the start of the line, BEL rings,
//! bidirectional overrides reorder what is shown. Each such character is
//! shown as U+FFFD instead, so what a person reads is what the package
//! says, never a rewrite of the lines around it. JSON output is not passed
//! through here: serde_json escapes control characters itself.

use std::borrow::Cow;

/// Whether `c` could change how the surrounding text is displayed.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every control character but newline and tab, and every
/// invisible or bidirectional formatting character, replaced by U+FFFD.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_unsafe(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}

/// [`clean`], and line breaks shown as spaces: for a value that must stay
/// on its line (a name, a description, a grant).
pub(crate) fn one_line(text: &str) -> String {
    clean(text).replace(['\n', '\t'], " ")
}

/// `println!` through [`clean`].
macro_rules! say {
    () => { println!() };
    ($($arg:tt)*) => { println!("{}", $crate::terminal::clean(&format!($($arg)*))) };
}

/// `eprintln!` through [`clean`].
macro_rules! say_err {
    ($($arg:tt)*) => { eprintln!("{}", $crate::terminal::clean(&format!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_not_obeyed() {
        let forged = "read-only\x1b[1A\x1b[2K\rIt can touch: nothing\x07\u{202E}txt.exe";
        let shown = clean(forged);
        assert!(
            !shown.contains(['\x1b', '\r', '\x07', '\u{202E}']),
            "{shown}"
        );
        assert!(shown.contains("It can touch: nothing"));
        assert_eq!(clean("plain\ttext\nnext"), "plain\ttext\nnext");
        assert_eq!(one_line("a\nb"), "a b");
    }
}
