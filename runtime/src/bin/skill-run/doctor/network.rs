//! Network probes. The embedded probe is a preview-1 module, and preview 1
//! has no HTTP, so outgoing requests are checked through the request policy
//! the HTTP client runs on every request (`request_denial`, then the
//! special-address screen applied to every address a granted name resolves
//! to). Raw sockets are tried for real: a module asking for socket calls
//! beyond preview 1 is loaded like a user's would be.

use std::net::IpAddr;

use anyhow::Result;
use skill_runtime::Runtime;
use skill_runtime::capabilities::network::NetworkGrant;
use skill_runtime::capabilities::request_denial;
use skill_runtime::capabilities::special_addresses::special_block;

use super::guest::{World, write_package};
use super::verdict::{Check, Observed};

/// The grant the policy probe holds.
const GRANT: &str = "https://api.doctor.example/v1/";

/// The request policy: a granted prefix goes, everything around it does not.
pub fn policy() -> Result<Check> {
    let grant = NetworkGrant::parse(GRANT).map_err(anyhow::Error::msg)?;
    let grants = [grant];
    let verdict = |method: &str, url: &str| -> Result<Option<String>> {
        let url = url::Url::parse(url)?;
        Ok(request_denial("doctor", &grants, method, &url))
    };
    let escapes = [
        ("GET", "https://evil.example/"),
        ("GET", "https://api.doctor.example.evil.example/v1/items"),
        ("GET", "https://api.doctor.example@evil.example/v1/items"),
        ("GET", "https://api.doctor.example/v1/../admin"),
        ("GET", "https://api.doctor.example/v1/%2e%2e/admin"),
        ("GET", "https://api.doctor.example/v1-internal/"),
        ("GET", "http://api.doctor.example/v1/items"),
        ("GET", "https://api.doctor.example:8443/v1/items"),
        ("CONNECT", "https://api.doctor.example/v1/items"),
    ];
    let mut let_through = Vec::new();
    for (method, url) in escapes {
        if verdict(method, url)?.is_none() {
            let_through.push(format!("{method} {url}"));
        }
    }
    let escape = if let_through.is_empty() {
        Observed::held(format!(
            "all {} refused before sending (other host, look-alike host, user info, `..`, encoded `..`, sibling path, http, other port, CONNECT)",
            escapes.len()
        ))
    } else {
        Observed::failed(format!("ALLOWED: {}", let_through.join(", ")))
    };
    let control = match verdict("GET", "https://api.doctor.example/v1/items")? {
        None => Observed::held("GET https://api.doctor.example/v1/items is allowed"),
        Some(why) => Observed::failed(format!("the granted URL was refused: {why}")),
    };
    Ok(Check::probe(
        "network.undeclared-host",
        format!(
            "request URLs outside the grant {GRANT} (the HTTP client's request policy; no HTTP guest is embedded)"
        ),
        escape,
        control,
    ))
}

/// The address screen: a granted host name that resolves to loopback, a
/// private network or the cloud metadata endpoint is not connected to.
pub fn special_addresses() -> Check {
    let special = [
        "127.0.0.1",
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "64:ff9b::a9fe:a9fe",
    ];
    let passed: Vec<&str> = special
        .iter()
        .copied()
        .filter(|a| {
            a.parse::<IpAddr>()
                .map_or(true, |ip| special_block(ip).is_none())
        })
        .collect();
    let escape = if passed.is_empty() {
        Observed::held(format!(
            "all {} refused (loopback, metadata, private, CGNAT, IPv6 unique-local, IPv4-mapped, NAT64)",
            special.len()
        ))
    } else {
        Observed::failed(format!("ALLOWED: {}", passed.join(", ")))
    };
    let public: IpAddr = [93, 184, 215, 14].into();
    let control = match special_block(public) {
        None => Observed::held(format!("{public} (public) is allowed")),
        Some(block) => Observed::failed(format!("{public} was refused as {block}")),
    };
    Check::probe(
        "network.private-addresses",
        "connect a granted host name to internal addresses",
        escape,
        control,
    )
}

/// A preview-1 module asking for WasmEdge's `sock_open`/`sock_connect` (the
/// only way preview 1 could open a socket) must be refused at load.
const SOCKETS_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect" (func (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))"#;

/// Loads the socket module; `probe_loaded` says whether the ordinary probe
/// (the same kind of module without socket calls) loaded: the control.
pub fn raw_sockets(runtime: &Runtime, world: &World, probe_loaded: bool) -> Result<Check> {
    let name = "skill-run-doctor-sockets";
    let dir = world.root().join("sockets");
    write_package(&dir, name, &wat::parse_str(SOCKETS_WAT)?, "")?;
    let escape = match runtime.load(dir) {
        Ok(_) => Observed::failed("the module LOADED with socket imports"),
        Err(error) => {
            let error = error.to_string();
            if error.contains("sock_open") {
                Observed::held("refused at load, naming sock_open")
            } else {
                Observed::held(format!("refused at load: {error}"))
            }
        }
    };
    let control = if probe_loaded {
        Observed::held("the probe module without socket imports loaded")
    } else {
        Observed::failed("the probe module did not load either")
    };
    Ok(Check::probe(
        "network.raw-sockets",
        "load a module that imports socket calls (sock_open, sock_connect)",
        escape,
        control,
    ))
}

/// The WASI 0.2 socket probe (see the file).
const COMPONENT_SOCKETS_WAT: &str = include_str!("sockets.wat");

/// A WASI 0.2 component asking for a TCP socket: it loads (language
/// runtimes import `wasi:sockets` whether they use it or not), and the call
/// must come back `access-denied`, audited.
pub fn component_sockets(
    runtime: &Runtime,
    world: &World,
    tokio: &tokio::runtime::Runtime,
) -> Result<Check> {
    let name = "skill-run-doctor-tcp";
    let dir = world.root().join("tcp");
    write_package(&dir, name, &wat::parse_str(COMPONENT_SOCKETS_WAT)?, "")?;
    let tried = "create a TCP socket from a WASI 0.2 component (wasi:sockets/tcp-create-socket)";
    let skill = match runtime.load(dir) {
        Ok(skill) => skill,
        Err(error) => {
            // Refused at load is confined too, but then the call was never tried.
            return Ok(Check::probe(
                "network.component-sockets",
                tried,
                Observed::held(format!("refused at load: {error}")),
                Observed::failed("the socket component did not load, so its call was not tried"),
            ));
        }
    };
    let outcome = tokio.block_on(skill.invoke(skill_runtime::Invocation::new("probe")))?;
    let audited = outcome
        .audit
        .iter()
        .any(|e| e.decision == skill_runtime::Decision::Deny);
    let (escape, control) = match &outcome.result {
        Ok(code) if code == 1000 => (
            Observed::failed("a socket was CREATED"),
            Observed::held("the component loaded and its call reached the host"),
        ),
        Ok(code) => {
            let what = if code == 1 {
                "access-denied".to_owned()
            } else {
                format!("error code {code}")
            };
            (
                if audited {
                    Observed::held(format!("{what}, audited"))
                } else {
                    Observed::failed(format!("{what}, but NOT AUDITED"))
                },
                Observed::held("the component loaded and its call reached the host"),
            )
        }
        Err(failure) => (
            Observed::held(format!("the call failed: {}", failure.message())),
            Observed::failed("the call did not return, so the denial was not seen"),
        ),
    };
    Ok(Check::probe(
        "network.component-sockets",
        tried,
        escape,
        control,
    ))
}
