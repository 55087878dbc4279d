//! Counts the test process's heap: bytes in use and their peak, so a case
//! can bound what the host allocated on a skill's behalf. Guest memories
//! are mapped by wasmtime, not allocated here, so only host-side copies
//! (lifted values, JSON, buffers) show up.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(bytes: usize) {
    let now = IN_USE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    IN_USE.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            grew(new_size);
            shrank(layout.size());
        }
        moved
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Starts a measurement: the peak is reset to what is in use now, which is returned.
pub fn start() -> usize {
    let now = IN_USE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// How far the heap grew above `start`'s figure since then.
pub fn grown_since(start: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(start)
}

/// Set in a child process started by [`alone`]: the test it runs alone.
const ALONE_VAR: &str = "SKILL_RUN_HEAP_ALONE";
/// How the child reports its figure on stdout.
const ALONE_LINE: &str = "heap-grown-bytes: ";

/// Runs `measure` (which returns the bytes the heap grew by) in a child
/// process that runs only the test `test` (its full path, `dir::dir_002_…`),
/// and returns the child's figure. The counters are process-wide, so in
/// the test binary every case running in parallel would add its own
/// allocations to the peak (and its frees could hide ours); in the child,
/// nothing else allocates, so the figure is the listing's own.
pub fn alone(test: &str, measure: impl FnOnce() -> usize) -> usize {
    if std::env::var(ALONE_VAR).as_deref() == Ok(test) {
        let grown = measure();
        // libtest prints the test's name first, on the same line.
        println!("{ALONE_LINE}{grown}");
        return grown;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ALONE_VAR, test)
        .output()
        .expect("start the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figure = stdout
        .lines()
        .find_map(|line| line.split(ALONE_LINE).nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    match (output.status.success(), figure) {
        (true, Some(grown)) => grown,
        _ => panic!(
            "{test} run alone failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
