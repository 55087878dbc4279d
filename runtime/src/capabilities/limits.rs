//! Resource limits: their manifest syntax (`[limits]`), defaults, the host's
//! ceiling, and the memory limiter that enforces them inside a store.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A size in bytes, written in `skill.toml` as `"64 MiB"`, `"512 KiB"`,
/// `"1 GB"` or a plain integer number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024)
    }

    /// Parses the textual form (`"64 MiB"`, `"1GB"`, `"4096"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: u64 = digits.parse().map_err(|_| {
            format!("`{text}` is not a size: write a whole number and a unit, e.g. \"64 MiB\"")
        })?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` in `{text}`: use B, KiB, MiB, GiB, KB, MB or GB"
                ));
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("size `{text}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (factor, unit) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
            if n >= factor && n.is_multiple_of(factor) {
                return write!(f, "{} {unit}", n / factor);
            }
        }
        write!(f, "{n} B")
    }
}

/// Written as the manifest writes it (`"64 MiB"`).
impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"64 MiB\" or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A wall-clock duration, written in `skill.toml` as `"10s"`, `"500ms"`,
/// `"2m"` or `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeLimit(pub Duration);

impl TimeLimit {
    /// Parses the textual form (`"10s"`, `"250ms"`, `"5m"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: u64 = digits.parse().map_err(|_| {
            format!("`{text}` is not a duration: write a whole number and a unit, e.g. \"10s\"")
        })?;
        let duration = match unit.trim() {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{text}`: use ms, s, m or h"
                ));
            }
        };
        if duration.is_zero() {
            return Err(format!("duration `{text}` must be greater than zero"));
        }
        Ok(TimeLimit(duration))
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Written as the manifest writes it (`"10s"`, `"250ms"`).
impl serde::Serialize for TimeLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TimeLimit::parse(&text).map_err(de::Error::custom)
    }
}

/// The `[limits]` table as written: every key optional. It serialises in
/// the same form, leaving out the keys the manifest did not write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LimitsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeLimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_response: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_size: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request_body: Option<ByteSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_files: Option<u64>,
}

/// Effective resource limits for one invocation.
///
/// [`Limits::default`] is what a skill gets when its manifest says nothing:
/// 64 MiB of linear memory, 10 s of wall-clock time, 1 MiB of output
/// (stdout, stderr and channel messages together), 32 HTTP requests, 8 MiB
/// per HTTP response body and per request body, 64 MiB written to disk and
/// 1,000 files created per invocation, and 64 MiB and 10,000 entries of
/// `{state}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory across all of the component's memories.
    pub memory: ByteSize,
    /// Wall-clock time for one invocation, host calls included.
    pub timeout: TimeLimit,
    /// Bytes the skill may emit: stdout, stderr, channel messages and the
    /// JSON result together.
    pub output: ByteSize,
    /// Outgoing HTTP requests per invocation.
    pub http_requests: u32,
    /// Bytes of one HTTP response body.
    pub http_response: ByteSize,
    /// Bytes one invocation may write to files, in every granted folder.
    pub disk_write: ByteSize,
    /// Files, folders and links one invocation may create.
    pub disk_files: u64,
    /// Total size of the skill's `{state}` folder: the sizes of its files
    /// and the lengths of its symlinks' targets.
    pub state_size: ByteSize,
    /// Bytes of one HTTP request body (an upload).
    pub http_request_body: ByteSize,
    /// Files, folders and links the skill's `{state}` folder may hold in all.
    pub state_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: ByteSize::mib(64),
            timeout: TimeLimit(Duration::from_secs(10)),
            output: ByteSize::mib(1),
            http_requests: 32,
            http_response: ByteSize::mib(8),
            disk_write: ByteSize::mib(64),
            disk_files: 1_000,
            state_size: ByteSize::mib(64),
            http_request_body: ByteSize::mib(8),
            state_files: 10_000,
        }
    }
}

impl Limits {
    /// The ceiling a [`crate::RuntimeConfig`] applies unless the host sets
    /// its own: 1 GiB memory, 5 minutes, 64 MiB output, 1,000 requests,
    /// 256 MiB per response, 4 GiB written, 1,000,000 files created and
    /// 4 GiB and 1,000,000 entries of state.
    pub fn default_ceiling() -> Self {
        Limits {
            memory: ByteSize::mib(1024),
            timeout: TimeLimit(Duration::from_secs(300)),
            output: ByteSize::mib(64),
            http_requests: 1000,
            http_response: ByteSize::mib(256),
            disk_write: ByteSize::mib(4096),
            disk_files: 1_000_000,
            state_size: ByteSize::mib(4096),
            http_request_body: ByteSize::mib(256),
            state_files: 1_000_000,
        }
    }

    /// The manifest's `[limits]` on top of the defaults.
    pub(crate) fn from_section(section: &LimitsSection) -> Self {
        let default = Limits::default();
        Limits {
            memory: section.memory.unwrap_or(default.memory),
            timeout: section.timeout.unwrap_or(default.timeout),
            output: section.output.unwrap_or(default.output),
            http_requests: section.http_requests.unwrap_or(default.http_requests),
            http_response: section.http_response.unwrap_or(default.http_response),
            disk_write: section.disk_write.unwrap_or(default.disk_write),
            disk_files: section.disk_files.unwrap_or(default.disk_files),
            state_size: section.state_size.unwrap_or(default.state_size),
            http_request_body: section
                .http_request_body
                .unwrap_or(default.http_request_body),
            state_files: section.state_files.unwrap_or(default.state_files),
        }
    }

    /// Each limit the smaller of `self` and `other`: how a host lowers limits.
    pub fn min(&self, other: &Limits) -> Limits {
        Limits {
            memory: self.memory.min(other.memory),
            timeout: self.timeout.min(other.timeout),
            output: self.output.min(other.output),
            http_requests: self.http_requests.min(other.http_requests),
            http_response: self.http_response.min(other.http_response),
            disk_write: self.disk_write.min(other.disk_write),
            disk_files: self.disk_files.min(other.disk_files),
            state_size: self.state_size.min(other.state_size),
            http_request_body: self.http_request_body.min(other.http_request_body),
            state_files: self.state_files.min(other.state_files),
        }
    }

    /// Each limit as (manifest key, a magnitude to compare, its text).
    fn entries(&self) -> [(&'static str, u128, String); 10] {
        [
            ("memory", u128::from(self.memory.0), self.memory.to_string()),
            (
                "timeout",
                self.timeout.0.as_nanos(),
                self.timeout.to_string(),
            ),
            ("output", u128::from(self.output.0), self.output.to_string()),
            (
                "http-requests",
                u128::from(self.http_requests),
                self.http_requests.to_string(),
            ),
            (
                "http-response",
                u128::from(self.http_response.0),
                self.http_response.to_string(),
            ),
            (
                "disk-write",
                u128::from(self.disk_write.0),
                self.disk_write.to_string(),
            ),
            (
                "disk-files",
                u128::from(self.disk_files),
                self.disk_files.to_string(),
            ),
            (
                "state-size",
                u128::from(self.state_size.0),
                self.state_size.to_string(),
            ),
            (
                "http-request-body",
                u128::from(self.http_request_body.0),
                self.http_request_body.to_string(),
            ),
            (
                "state-files",
                u128::from(self.state_files),
                self.state_files.to_string(),
            ),
        ]
    }

    /// Every limit of `self` above `other`, as (manifest key, value, other's value).
    pub fn above(&self, other: &Limits) -> Vec<(&'static str, String, String)> {
        self.entries()
            .into_iter()
            .zip(other.entries())
            .filter(|(mine, theirs)| mine.1 > theirs.1)
            .map(|(mine, theirs)| (mine.0, mine.2, theirs.2))
            .collect()
    }

    /// The first limit of `self` above `ceiling`, as (manifest key, value, ceiling).
    pub fn first_above(&self, ceiling: &Limits) -> Option<(&'static str, String, String)> {
        self.above(ceiling).into_iter().next()
    }
}

/// Which limit an invocation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LimitKind {
    /// Linear memory (`limits.memory`).
    Memory,
    /// Wall-clock time (`limits.timeout`).
    Timeout,
    /// Output bytes (`limits.output`).
    Output,
    /// Outgoing HTTP requests (`limits.http-requests`).
    HttpRequests,
    /// One HTTP response body's size (`limits.http-response`).
    HttpResponse,
    /// Bytes written to files (`limits.disk-write`).
    DiskWrite,
    /// Files, folders and links created (`limits.disk-files`).
    DiskFiles,
    /// The size of `{state}` (`limits.state-size`).
    StateSize,
    /// One HTTP request body's size (`limits.http-request-body`).
    HttpRequestBody,
    /// Files, folders and links in `{state}` (`limits.state-files`).
    StateFiles,
    /// Tables, instances, table elements or resource handles: fixed caps of
    /// the runtime, not the manifest.
    Table,
}

impl LimitKind {
    /// The `skill.toml` key that raises this limit, if the manifest controls it.
    pub fn manifest_key(self) -> Option<&'static str> {
        match self {
            LimitKind::Memory => Some("limits.memory"),
            LimitKind::Timeout => Some("limits.timeout"),
            LimitKind::Output => Some("limits.output"),
            LimitKind::HttpRequests => Some("limits.http-requests"),
            LimitKind::HttpResponse => Some("limits.http-response"),
            LimitKind::DiskWrite => Some("limits.disk-write"),
            LimitKind::DiskFiles => Some("limits.disk-files"),
            LimitKind::StateSize => Some("limits.state-size"),
            LimitKind::HttpRequestBody => Some("limits.http-request-body"),
            LimitKind::StateFiles => Some("limits.state-files"),
            LimitKind::Table => None,
        }
    }
}

/// Hard caps on tables, instances and resource handles. Not
/// manifest-controlled: a component needs few of each, and a hostile one
/// could otherwise make the host allocate memory for millions of table slots
/// or handles (each wasi-http header handle may hold up to its field limit).
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;
pub(crate) const MAX_INSTANCES: usize = 64;
pub(crate) const MAX_TABLES: usize = 32;
pub(crate) const MAX_MEMORIES: usize = 16;
/// Live resource handles (open files, streams, HTTP objects) per invocation.
pub(crate) const MAX_RESOURCE_HANDLES: usize = 4096;
/// Bytes one wasi-http header set may hold.
pub(crate) const MAX_HTTP_FIELDS_BYTES: usize = 32 * 1024;
/// Live component-model handles (`resource.new`, lends) per store; wasmtime
/// would allow 100,000, each costing host memory without a host call.
pub(crate) const MAX_COMPONENT_HANDLES: usize = MAX_RESOURCE_HANDLES;
/// The least host memory wasmtime may spend lifting one transfer from the
/// guest (a host call's arguments or a typed result): enough for any
/// ordinary file write or message.
const MIN_TRANSFER_BUDGET: usize = 32 << 20;

/// How many bytes of host memory wasmtime may allocate for one transfer from
/// the guest (its "hostcall fuel"). Lifting a `list<u8>` costs a whole
/// `Val` per element, so a guest could make the host allocate dozens of
/// times its own memory; this caps that at what a result within
/// `limits.output` can need (each element, even an `option<u8>` that costs
/// two `Val`s, is at least two bytes of JSON), and at no less than
/// [`MIN_TRANSFER_BUDGET`].
pub(crate) fn transfer_budget(output: ByteSize) -> usize {
    let per_json_byte = std::mem::size_of::<wasmtime::component::Val>();
    usize::try_from(output.0)
        .unwrap_or(usize::MAX)
        .saturating_mul(per_json_byte)
        .max(MIN_TRANSFER_BUDGET)
}

/// Enforces `limits.memory` across all memories of one store and remembers
/// which limit was hit, so a trap that follows a refused `memory.grow` is
/// reported as the limit rather than as a skill bug.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max_memory: usize,
    in_use: usize,
    peak: usize,
    pub(crate) hit: Option<LimitKind>,
}

impl MemoryLimiter {
    pub(crate) fn new(max_memory: ByteSize) -> Self {
        MemoryLimiter {
            max_memory: usize::try_from(max_memory.0).unwrap_or(usize::MAX),
            in_use: 0,
            peak: 0,
            hit: None,
        }
    }

    /// The most linear memory the store held at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.in_use - current.min(self.in_use) + desired;
        if after > self.max_memory {
            self.hit = Some(LimitKind::Memory);
            return Ok(false);
        }
        self.in_use = after;
        self.peak = self.peak.max(after);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = Some(LimitKind::Table);
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// A limit hit outside wasm (in a host call that cannot trap), checked when
/// the invocation ends. Clones share it.
#[derive(Clone, Default)]
pub(crate) struct LimitFlag(Arc<Mutex<Option<LimitKind>>>);

impl LimitFlag {
    /// Records `kind`; the first limit hit is the one reported.
    pub(crate) fn set(&self, kind: LimitKind) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(kind);
    }

    /// The first limit hit, if any.
    pub(crate) fn get(&self) -> Option<LimitKind> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_size_accepts_binary_and_decimal_units() {
        assert_eq!(ByteSize::parse("64 MiB"), Ok(ByteSize(64 << 20)));
        assert_eq!(ByteSize::parse("64MiB"), Ok(ByteSize(64 << 20)));
        assert_eq!(ByteSize::parse("2 KB"), Ok(ByteSize(2000)));
        assert_eq!(ByteSize::parse("4096"), Ok(ByteSize(4096)));
    }

    #[test]
    fn byte_size_rejects_unknown_units_and_overflow() {
        assert!(
            ByteSize::parse("64 megs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(ByteSize::parse("MiB").is_err());
        assert!(
            ByteSize::parse("99999999999999999 GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn time_limit_parses_units_and_rejects_zero() {
        assert_eq!(
            TimeLimit::parse("10s"),
            Ok(TimeLimit(Duration::from_secs(10)))
        );
        assert_eq!(
            TimeLimit::parse("250ms"),
            Ok(TimeLimit(Duration::from_millis(250)))
        );
        assert_eq!(
            TimeLimit::parse("2m"),
            Ok(TimeLimit(Duration::from_secs(120)))
        );
        assert!(TimeLimit::parse("0s").is_err());
        assert!(TimeLimit::parse("10 fortnights").is_err());
    }

    #[test]
    fn limits_min_lowers_each_limit_separately() {
        let manifest = Limits::default();
        let host = Limits {
            memory: ByteSize::mib(16),
            ..Limits::default_ceiling()
        };
        let effective = manifest.min(&host);
        assert_eq!(effective.memory, ByteSize::mib(16));
        assert_eq!(effective.timeout, manifest.timeout);
    }

    #[test]
    fn transfer_budget_follows_the_output_limit_with_a_floor() {
        assert_eq!(transfer_budget(ByteSize(1)), MIN_TRANSFER_BUDGET);
        let val = std::mem::size_of::<wasmtime::component::Val>();
        let big = ByteSize::mib(64);
        assert_eq!(transfer_budget(big), (64 << 20) * val);
        assert!(transfer_budget(ByteSize(u64::MAX)) == usize::MAX);
    }

    #[test]
    fn limiter_counts_all_memories_together() {
        use wasmtime::ResourceLimiter;
        let mut limiter = MemoryLimiter::new(ByteSize(100));
        assert!(limiter.memory_growing(0, 60, None).unwrap_or(false));
        // A second memory growing to 60 would make 120 in total.
        assert!(!limiter.memory_growing(0, 60, None).unwrap_or(true));
        assert_eq!(limiter.hit, Some(LimitKind::Memory));
    }
}
