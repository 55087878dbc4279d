//! The SDK for writing skills in Rust.
//!
//! A skill's commands are the functions its WIT world exports. Write the
//! world in `wit/world.wit` next to your `Cargo.toml`, then:
//!
//! ```ignore
//! skill_sdk::skill!("hello");
//!
//! struct Hello;
//!
//! impl Guest for Hello {
//!     fn greet(name: String) -> String {
//!         format!("Hello, {name}!")
//!     }
//! }
//!
//! export!(Hello);
//! ```
//!
//! Name top-level exports so they cannot be mistaken for C library
//! functions: a world-level export is linked under its bare name, so an
//! export called `read`, `write`, `open` or `close` replaces libc's own and
//! `std::fs` then calls your command. Use another name (`get`, `save`), or
//! export the functions from an interface.
//!
//! Build with `cargo build --release --target wasm32-wasip2` (or
//! `skill-run build .`). Files, environment variables, clocks and random
//! numbers are plain Rust `std`; only what `skill.toml` grants is there at
//! run time. Channels, which `std` has no word for, are in [`channels`].
#![deny(missing_docs)]

/// The wit-bindgen version the SDK is built with, for [`skill!`].
pub use wit_bindgen;

#[allow(missing_docs, unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "skills:runtime/skill",
    });
}

/// Named message channels to and from the host. Only channels declared in
/// `skill.toml` under `[capabilities].channels` work, in their declared
/// direction; everything else returns [`ChannelError::Denied`] and is
/// recorded in the host's audit log.
pub mod channels {
    /// Why a channel call was refused or failed (it implements `Display`
    /// and `std::error::Error`).
    pub use crate::bindings::skills::runtime::channels::ChannelError;

    impl ChannelError {
        /// The reason in plain words, as the host wrote it.
        pub fn message(&self) -> String {
            match self {
                ChannelError::Denied(reason) => format!("denied: {reason}"),
                ChannelError::TooLarge(max) => format!("message too large: at most {max} bytes"),
                ChannelError::Failed(reason) => format!("host failed: {reason}"),
            }
        }
    }

    /// Sends `message` on `channel`.
    pub fn send(channel: &str, message: &str) -> Result<(), ChannelError> {
        crate::bindings::skills::runtime::channels::send(channel, message)
    }

    /// Takes the next message waiting on `channel`, if any.
    pub fn receive(channel: &str) -> Result<Option<String>, ChannelError> {
        crate::bindings::skills::runtime::channels::receive(channel)
    }
}

/// Generates the bindings for your skill's world from `wit/` in your crate:
/// a `Guest` trait with one method per exported function (each a command),
/// and an `export!` macro to name the type that implements it.
#[macro_export]
macro_rules! skill {
    ($world:literal) => {
        $crate::wit_bindgen::generate!({
            world: $world,
            path: "wit",
            runtime_path: "::skill_sdk::wit_bindgen::rt",
            bitflags_path: "::skill_sdk::wit_bindgen::rt::bitflags",
            generate_all,
        });
    };
}
