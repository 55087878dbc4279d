//! Tries every raw-socket route std offers: TCP connect, TCP listen, UDP
//! bind and send, and a DNS lookup. The runtime links wasi:sockets so this
//! component loads, and must refuse each attempt. Input on stdin: the
//! loopback port of a listener the test watches, e.g. `{"port": 4000}`.
//! Prints one line per attempt: `<what>: ok` or `<what>: <error>`.

use std::io::Read;
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

fn report<T>(what: &str, result: std::io::Result<T>) {
    match result {
        Ok(_) => println!("{what}: ok"),
        Err(e) => println!("{what}: {e} (kind {:?})", e.kind()),
    }
}

fn main() {
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let port: u16 = input
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(22);
    let target = format!("127.0.0.1:{port}");
    report("tcp-connect", TcpStream::connect(&target));
    report("tcp-listen", TcpListener::bind("127.0.0.1:0"));
    report(
        "udp-send",
        UdpSocket::bind("127.0.0.1:0").and_then(|s| s.send_to(b"escape", &target)),
    );
    report(
        "dns-lookup",
        ("localhost", port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>()),
    );
}
