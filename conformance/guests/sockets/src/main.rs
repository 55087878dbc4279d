//! Tries a raw TCP connection; the runtime must refuse this component at load.

fn main() {
    match std::net::TcpStream::connect("127.0.0.1:22") {
        Ok(_) => println!("connected"),
        Err(e) => println!("{e}"),
    }
}
