//! The `hello` example skill: three typed commands, no capabilities.

skill_sdk::skill!("hello");

struct Hello;

impl Guest for Hello {
    fn greet(name: String, tone: Option<Tone>) -> String {
        match tone.unwrap_or(Tone::Plain) {
            Tone::Plain => format!("Hello, {name}."),
            Tone::Cheerful => format!("Hello, {name}! Lovely to see you!"),
            Tone::Formal => format!("Good day to you, {name}."),
        }
    }

    fn count(text: String) -> Stats {
        let longest = text.split_whitespace().max_by_key(|w| w.chars().count());
        Stats {
            words: text.split_whitespace().count() as u32,
            characters: text.chars().count() as u32,
            lines: text.lines().count() as u32,
            longest_word: longest.map(str::to_owned),
        }
    }

    fn divide(a: i64, b: i64) -> Result<i64, String> {
        a.checked_div(b)
            .ok_or_else(|| format!("cannot divide {a} by {b}"))
    }
}

export!(Hello);
