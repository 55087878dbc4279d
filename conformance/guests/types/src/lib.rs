//! Typed exports covering every WIT type `skill-run` converts to and from JSON.

skill_sdk::skill!("types");

use std::sync::atomic::{AtomicU32, Ordering};

/// Lives in linear memory: a fresh instance starts it at zero again.
static COUNTER: AtomicU32 = AtomicU32::new(0);

struct Types;

impl Guest for Types {
    fn echo(value: Everything) -> Everything {
        value
    }

    fn nothing() {}

    fn add(a: u32, b: u32, c: Option<u32>) -> u64 {
        u64::from(a) + u64::from(b) + u64::from(c.unwrap_or(0))
    }

    fn maybe_fail(fail: bool) -> Result<String, Shape> {
        if fail {
            Err(Shape::Rect((3, 4)))
        } else {
            Ok("fine".into())
        }
    }

    fn bump() -> u32 {
        COUNTER.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn big(n: u32) -> String {
        "b".repeat(n as usize)
    }
}

export!(Types);
