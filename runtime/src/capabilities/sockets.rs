//! `wasi:sockets`: linked so that components whose language runtime imports
//! it (componentize-py's libc, wasi-libc's `socket()`) load, but never
//! granted. Every operation a guest can start is refused with
//! `access-denied` and audited with the fix: a `network` URL grant and
//! `wasi:http`.
//!
//! This is our own implementation rather than wasmtime-wasi's with its
//! switches off: theirs answers a name lookup with `permanent-resolver-failure`
//! (not `access-denied`) and audits nothing. Here no socket, stream or lookup
//! resource type can ever be created (they are uninhabited types), so the
//! only reachable entry points are the constructors below, and each refuses.

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use crate::audit::{AuditKind, AuditRecorder, Decision};
use crate::invocation::state::InvocationState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/sockets",
        world: "denied-sockets",
        imports: { default: trappable },
        require_store_data_send: true,
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:sockets/network.network": super::DeniedNetwork,
        },
    });
}

use bindings::wasi::sockets::{
    instance_network, ip_name_lookup, network, tcp, tcp_create_socket, udp, udp_create_socket,
};
use network::{ErrorCode, IpAddressFamily, IpSocketAddress};

/// Why every socket operation is refused, and what to use instead.
pub const SOCKETS_DENIED: &str = "raw sockets are never granted to skills; make HTTP requests through wasi:http with a [capabilities].network URL grant";

/// The interface packages linked here, whose every operation is denied.
pub(crate) const PACKAGE: &str = "wasi:sockets";

/// The `network` handle `instance-network` returns. It grants nothing: every
/// call that takes it is refused.
#[derive(Debug)]
pub struct DeniedNetwork;

/// The view the socket host functions get: the resource table (for the
/// `network` handle) and the audit log.
struct Denied<'a> {
    table: &'a mut ResourceTable,
    audit: &'a AuditRecorder,
}

impl Denied<'_> {
    fn deny<T>(&self, target: String) -> wasmtime::Result<Result<T, ErrorCode>> {
        self.audit.record(
            AuditKind::Network,
            &target,
            Decision::Deny,
            SOCKETS_DENIED,
            None,
        );
        Ok(Err(ErrorCode::AccessDenied))
    }
}

struct HasDenied;

impl HasData for HasDenied {
    type Data<'a> = Denied<'a>;
}

/// Adds every `wasi:sockets` interface to `linker`, each operation denied.
pub(crate) fn add_to_linker(linker: &mut Linker<InvocationState>) -> wasmtime::Result<()> {
    fn view(s: &mut InvocationState) -> Denied<'_> {
        Denied {
            table: &mut s.table,
            audit: &s.audit,
        }
    }
    network::add_to_linker::<_, HasDenied>(linker, &Default::default(), view)?;
    instance_network::add_to_linker::<_, HasDenied>(linker, view)?;
    ip_name_lookup::add_to_linker::<_, HasDenied>(linker, view)?;
    tcp::add_to_linker::<_, HasDenied>(linker, view)?;
    tcp_create_socket::add_to_linker::<_, HasDenied>(linker, view)?;
    udp::add_to_linker::<_, HasDenied>(linker, view)?;
    udp_create_socket::add_to_linker::<_, HasDenied>(linker, view)?;
    Ok(())
}

fn family(f: IpAddressFamily) -> &'static str {
    match f {
        IpAddressFamily::Ipv4 => "ipv4",
        IpAddressFamily::Ipv6 => "ipv6",
    }
}

/// A handle of a type nothing ever creates reached the host: wasmtime
/// checks handles, so this cannot happen; trap rather than invent an answer.
fn impossible<T>(what: &str) -> wasmtime::Result<T> {
    Err(wasmtime::format_err!(
        "wasi:sockets: a {what} handle reached the host, but none is ever created"
    ))
}

impl network::Host for Denied<'_> {
    fn network_error_code(
        &mut self,
        _err: Resource<wasmtime_wasi_io::streams::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        // No stream error ever comes from a socket here.
        Ok(None)
    }
}

impl network::HostNetwork for Denied<'_> {
    fn drop(&mut self, rep: Resource<DeniedNetwork>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl instance_network::Host for Denied<'_> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<DeniedNetwork>> {
        // Handing out the (powerless) handle is not an operation on the
        // network; what is done with it is refused and audited.
        Ok(self.table.push(DeniedNetwork)?)
    }
}

impl ip_name_lookup::Host for Denied<'_> {
    fn resolve_addresses(
        &mut self,
        _network: Resource<DeniedNetwork>,
        name: String,
    ) -> wasmtime::Result<Result<Resource<ip_name_lookup::ResolveAddressStream>, ErrorCode>> {
        let name: String = name.chars().take(256).collect();
        self.deny(format!(
            "wasi:sockets/ip-name-lookup resolve-addresses {name}"
        ))
    }
}

impl ip_name_lookup::HostResolveAddressStream for Denied<'_> {
    fn resolve_next_address(
        &mut self,
        _self_: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<Result<Option<network::IpAddress>, ErrorCode>> {
        impossible("resolve-address-stream")
    }

    fn subscribe(
        &mut self,
        _self_: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<wasmtime_wasi_io::poll::DynPollable>> {
        impossible("resolve-address-stream")
    }

    fn drop(
        &mut self,
        _rep: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> wasmtime::Result<()> {
        impossible("resolve-address-stream")
    }
}

impl tcp_create_socket::Host for Denied<'_> {
    fn create_tcp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> wasmtime::Result<Result<Resource<tcp::TcpSocket>, ErrorCode>> {
        self.deny(format!(
            "wasi:sockets/tcp-create-socket create-tcp-socket {}",
            family(address_family)
        ))
    }
}

impl udp_create_socket::Host for Denied<'_> {
    fn create_udp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> wasmtime::Result<Result<Resource<udp::UdpSocket>, ErrorCode>> {
        self.deny(format!(
            "wasi:sockets/udp-create-socket create-udp-socket {}",
            family(address_family)
        ))
    }
}

impl tcp::Host for Denied<'_> {}
impl udp::Host for Denied<'_> {}

/// Methods of a resource no one can hold: each traps as [`impossible`].
macro_rules! unreachable_methods {
    ($what:literal, $res:ty; $( fn $name:ident(&mut self, _self_: Resource<$r:ty> $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        $(
            fn $name(&mut self, _self_: Resource<$r> $(, $arg: $ty)*) -> wasmtime::Result<$ret> {
                $( let _ = $arg; )*
                impossible($what)
            }
        )*
        fn drop(&mut self, _rep: Resource<$res>) -> wasmtime::Result<()> {
            impossible($what)
        }
    };
}

type Net = Resource<DeniedNetwork>;
type R<T> = Result<T, ErrorCode>;
type Pollable = Resource<wasmtime_wasi_io::poll::DynPollable>;
type InStream = Resource<wasmtime_wasi_io::streams::DynInputStream>;
type OutStream = Resource<wasmtime_wasi_io::streams::DynOutputStream>;

impl tcp::HostTcpSocket for Denied<'_> {
    unreachable_methods! { "tcp-socket", tcp::TcpSocket;
        fn start_bind(&mut self, _self_: Resource<tcp::TcpSocket>, network: Net, local_address: IpSocketAddress) -> R<()>;
        fn finish_bind(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<()>;
        fn start_connect(&mut self, _self_: Resource<tcp::TcpSocket>, network: Net, remote_address: IpSocketAddress) -> R<()>;
        fn finish_connect(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<(InStream, OutStream)>;
        fn start_listen(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<()>;
        fn finish_listen(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<()>;
        fn accept(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<(Resource<tcp::TcpSocket>, InStream, OutStream)>;
        fn local_address(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<IpSocketAddress>;
        fn remote_address(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<IpSocketAddress>;
        fn is_listening(&mut self, _self_: Resource<tcp::TcpSocket>) -> bool;
        fn address_family(&mut self, _self_: Resource<tcp::TcpSocket>) -> IpAddressFamily;
        fn set_listen_backlog_size(&mut self, _self_: Resource<tcp::TcpSocket>, value: u64) -> R<()>;
        fn keep_alive_enabled(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<bool>;
        fn set_keep_alive_enabled(&mut self, _self_: Resource<tcp::TcpSocket>, value: bool) -> R<()>;
        fn keep_alive_idle_time(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<u64>;
        fn set_keep_alive_idle_time(&mut self, _self_: Resource<tcp::TcpSocket>, value: u64) -> R<()>;
        fn keep_alive_interval(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<u64>;
        fn set_keep_alive_interval(&mut self, _self_: Resource<tcp::TcpSocket>, value: u64) -> R<()>;
        fn keep_alive_count(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<u32>;
        fn set_keep_alive_count(&mut self, _self_: Resource<tcp::TcpSocket>, value: u32) -> R<()>;
        fn hop_limit(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<u8>;
        fn set_hop_limit(&mut self, _self_: Resource<tcp::TcpSocket>, value: u8) -> R<()>;
        fn receive_buffer_size(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<u64>;
        fn set_receive_buffer_size(&mut self, _self_: Resource<tcp::TcpSocket>, value: u64) -> R<()>;
        fn send_buffer_size(&mut self, _self_: Resource<tcp::TcpSocket>) -> R<u64>;
        fn set_send_buffer_size(&mut self, _self_: Resource<tcp::TcpSocket>, value: u64) -> R<()>;
        fn subscribe(&mut self, _self_: Resource<tcp::TcpSocket>) -> Pollable;
        fn shutdown(&mut self, _self_: Resource<tcp::TcpSocket>, shutdown_type: tcp::ShutdownType) -> R<()>;
    }
}

impl udp::HostUdpSocket for Denied<'_> {
    unreachable_methods! { "udp-socket", udp::UdpSocket;
        fn start_bind(&mut self, _self_: Resource<udp::UdpSocket>, network: Net, local_address: IpSocketAddress) -> R<()>;
        fn finish_bind(&mut self, _self_: Resource<udp::UdpSocket>) -> R<()>;
        fn stream(&mut self, _self_: Resource<udp::UdpSocket>, remote_address: Option<IpSocketAddress>) -> R<(Resource<udp::IncomingDatagramStream>, Resource<udp::OutgoingDatagramStream>)>;
        fn local_address(&mut self, _self_: Resource<udp::UdpSocket>) -> R<IpSocketAddress>;
        fn remote_address(&mut self, _self_: Resource<udp::UdpSocket>) -> R<IpSocketAddress>;
        fn address_family(&mut self, _self_: Resource<udp::UdpSocket>) -> IpAddressFamily;
        fn unicast_hop_limit(&mut self, _self_: Resource<udp::UdpSocket>) -> R<u8>;
        fn set_unicast_hop_limit(&mut self, _self_: Resource<udp::UdpSocket>, value: u8) -> R<()>;
        fn receive_buffer_size(&mut self, _self_: Resource<udp::UdpSocket>) -> R<u64>;
        fn set_receive_buffer_size(&mut self, _self_: Resource<udp::UdpSocket>, value: u64) -> R<()>;
        fn send_buffer_size(&mut self, _self_: Resource<udp::UdpSocket>) -> R<u64>;
        fn set_send_buffer_size(&mut self, _self_: Resource<udp::UdpSocket>, value: u64) -> R<()>;
        fn subscribe(&mut self, _self_: Resource<udp::UdpSocket>) -> Pollable;
    }
}

impl udp::HostIncomingDatagramStream for Denied<'_> {
    unreachable_methods! { "incoming-datagram-stream", udp::IncomingDatagramStream;
        fn receive(&mut self, _self_: Resource<udp::IncomingDatagramStream>, max_results: u64) -> R<Vec<udp::IncomingDatagram>>;
        fn subscribe(&mut self, _self_: Resource<udp::IncomingDatagramStream>) -> Pollable;
    }
}

impl udp::HostOutgoingDatagramStream for Denied<'_> {
    unreachable_methods! { "outgoing-datagram-stream", udp::OutgoingDatagramStream;
        fn check_send(&mut self, _self_: Resource<udp::OutgoingDatagramStream>) -> R<u64>;
        fn send(&mut self, _self_: Resource<udp::OutgoingDatagramStream>, datagrams: Vec<udp::OutgoingDatagram>) -> R<u64>;
        fn subscribe(&mut self, _self_: Resource<udp::OutgoingDatagramStream>) -> Pollable;
    }
}
/// Raw sockets: linked so that components importing them load, never
/// granted, every operation refused and audited.
pub(crate) struct Sockets;

impl super::capability::Capability for Sockets {
    fn key(&self) -> &'static str {
        "sockets"
    }

    fn answers(&self, package: &str, _interface: &str) -> bool {
        package == PACKAGE
    }

    fn always_denied(&self) -> bool {
        true
    }

    fn link(
        &self,
        linker: &mut Linker<InvocationState>,
        _for_: &super::capability::LinkFor<'_>,
    ) -> wasmtime::Result<()> {
        add_to_linker(linker)
    }
}
