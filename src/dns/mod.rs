//! Authoritative DNS for the Direct Routing domains: the customers' TXT verification tokens.
//!
//! Each account's two tokens are TXT records at `<label>.1r1.<base>` and `<label>.1r2.<base>`,
//! served over UDP and TCP; [`query_txt`] reads them back. What exists is decided by [`Zone`];
//! the wire format (RFC 1035, EDNS from RFC 6891) is hickory-proto's.

mod answer;
mod client;
mod server;
#[cfg(test)]
mod tests;
mod zone;

pub use client::query_txt;
pub use server::{serve_tcp, serve_udp};
pub use zone::Zone;

/// Shared, swappable zone: the server reads it per query; the owner replaces the Arc on change.
pub type SharedZone = std::sync::Arc<std::sync::RwLock<std::sync::Arc<Zone>>>;

/// The answer to one DNS message (UDP payload, no TCP length prefix); None when the input is
/// not worth answering (longer than 65,535 bytes, too short to hold a header, or a response,
/// QR=1).
///
/// The UDP size limit applies: 512 bytes, or the size the client advertises with EDNS
/// (at least 512, at most 4096); a larger answer comes back truncated (TC=1, no records).
pub fn respond(zone: &Zone, query: &[u8]) -> Option<Vec<u8>> {
    answer::answer_message(zone, query, answer::Transport::Udp)
}
