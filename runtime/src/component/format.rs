//! What a skill's executable file is, besides how it is called
//! ([`super::ComponentKind`]): a WASI 0.2 component, a WASI preview-1 core
//! module adapted at load, or a WASI 0.3 (async component model) component.

use serde::Serialize;

/// The WASI flavour of a skill's executable, as `inspect` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ComponentFormat {
    /// A component using WASI 0.2 (`wasm32-wasip2`).
    #[serde(rename = "wasi-0.2-component")]
    Wasi02,
    /// A WASI preview-1 core module (`wasm32-wasip1`, TinyGo, wasi-sdk...),
    /// adapted to a `wasi:cli/command` component when it was loaded.
    #[serde(rename = "wasi-preview-1-module")]
    Preview1Module,
    /// A component using WASI 0.3 interfaces or async (component-model-async)
    /// functions.
    #[serde(rename = "wasi-0.3-component")]
    Wasi03,
}

impl ComponentFormat {
    /// A short phrase for people: "WASI preview-1 core module (adapted at load)".
    pub fn describe(self) -> &'static str {
        match self {
            ComponentFormat::Wasi02 => "WASI 0.2 component",
            ComponentFormat::Preview1Module => "WASI preview-1 core module (adapted at load)",
            ComponentFormat::Wasi03 => "WASI 0.3 component (async component model)",
        }
    }
}

impl std::fmt::Display for ComponentFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Whether an import or export name is a WASI 0.3 interface
/// (`wasi:cli/run@0.3.0`, `wasi:http/types@0.3.0-rc-2025-09-16`).
pub(crate) fn is_wasi_03(name: &str) -> bool {
    name.starts_with("wasi:")
        && name
            .split_once('@')
            .is_some_and(|(_, version)| version.starts_with("0.3."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_03_names_are_told_from_02_ones() {
        assert!(is_wasi_03("wasi:cli/run@0.3.0"));
        assert!(is_wasi_03("wasi:http/types@0.3.0-rc-2025-09-16"));
        assert!(!is_wasi_03("wasi:cli/run@0.2.6"));
        assert!(!is_wasi_03("example:thing/api@0.3.0"));
        assert!(!is_wasi_03("wasi:cli/run"));
    }

    #[test]
    fn formats_serialise_to_the_documented_names() {
        let names: Vec<String> = [
            ComponentFormat::Wasi02,
            ComponentFormat::Preview1Module,
            ComponentFormat::Wasi03,
        ]
        .iter()
        .map(|f| serde_json::to_string(f).expect("serialises"))
        .collect();
        assert_eq!(
            names,
            [
                "\"wasi-0.2-component\"",
                "\"wasi-preview-1-module\"",
                "\"wasi-0.3-component\""
            ]
        );
    }
}
