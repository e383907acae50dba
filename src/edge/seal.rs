//! The edge's signature on the addresses it writes into its own Via and Record-Route, so that a
//! message naming an address the edge did not choose is refused instead of relayed there.
//!
//! HMAC-SHA256 with a deployment key, cut to 80 bits (20 hex digits): enough that guessing
//! one takes longer than any call lasts, short enough for a SIP header. A message is signed
//! with the current key and accepted with the current or the previous one, so a key can be
//! rotated while calls are in progress: start every edge with the new key as current and the
//! old as previous, and drop the old once the longest call has ended. Depends on nothing else
//! in the crate.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the MAC the edge writes.
const TAG_BYTES: usize = 10;
/// The shortest key accepted, in characters: 32 (128 bits as hex; more as text).
pub const MIN_KEY_BYTES: usize = 32;

type Keyed = Hmac<Sha256>;

/// The keys that sign and check; cheap to use (each is keyed once, then cloned per message).
#[derive(Clone)]
pub struct Keys {
    current: Keyed,
    previous: Option<Keyed>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an edge key must be at least {MIN_KEY_BYTES} characters (it is {0}); `openssl rand -hex 32` makes a good one")]
pub struct ShortKey(pub usize);

fn keyed(secret: &[u8]) -> Result<Keyed, ShortKey> {
    let secret = secret.trim_ascii();
    if secret.len() < MIN_KEY_BYTES {
        return Err(ShortKey(secret.len()));
    }
    Ok(Keyed::new_from_slice(secret).expect("HMAC takes a key of any length"))
}

impl Keys {
    /// The deployment's key, and the one it replaces while calls signed with it may still run.
    /// White space around a key (a file's final newline) is not part of it.
    pub fn new(current: &[u8], previous: Option<&[u8]>) -> Result<Self, ShortKey> {
        Ok(Self {
            current: keyed(current)?,
            previous: previous.map(keyed).transpose()?,
        })
    }

    /// A key of this process alone: calls in progress do not survive its restart, and no
    /// other edge accepts what it signed.
    pub fn random() -> Self {
        let secret: [u8; 32] = rand::random();
        Self::new(&hex(&secret).into_bytes(), None).expect("64 hex digits are long enough")
    }

    /// The MAC of `parts` (each is length-prefixed, so no two lists sign alike), as 20 lowercase
    /// hex digits.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; TAG_BYTES * 2] {
        let tag = digest(&self.current, parts);
        let mut out = [0u8; TAG_BYTES * 2];
        for (i, b) in tag[..TAG_BYTES].iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        out
    }

    /// Whether `tag` (hex, as [`Keys::sign`] wrote it) signs `parts` under either key; compared
    /// in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let Some(tag) = unhex(tag) else {
            return false;
        };
        let check = |key: &Keyed| {
            let mut mac = key.clone();
            feed(&mut mac, parts);
            mac.verify_truncated_left(&tag).is_ok()
        };
        check(&self.current) || self.previous.as_ref().is_some_and(check)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

fn unhex(text: &[u8]) -> Option<[u8; TAG_BYTES]> {
    if text.len() != TAG_BYTES * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; TAG_BYTES];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn feed(mac: &mut Keyed, parts: &[&[u8]]) {
    for part in parts {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
}

fn digest(key: &Keyed, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = key.clone();
    feed(&mut mac, parts);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_checks_with_the_current_or_the_previous_key() {
        let old = Keys::new(b"the-old-key-0123456789-0123456789", None).unwrap();
        let new = Keys::new(
            b"the-new-key-0123456789-0123456789\n",
            Some(b"the-old-key-0123456789-0123456789"),
        )
        .unwrap();
        let parts: [&[u8]; 2] = [b"s", b"7f000001-13c4"];
        let by_old = old.sign(&parts);
        assert!(new.verify(&parts, &by_old), "signed before the rotation");
        assert!(new.verify(&parts, &new.sign(&parts)));
        assert!(
            !old.verify(&parts, &new.sign(&parts)),
            "the old edge does not know the new key"
        );
        assert!(
            !new.verify(&[b"s", b"7f000001-13c5"], &by_old),
            "another address"
        );
        assert!(
            !new.verify(&[b"s7f000001-13c4"], &by_old),
            "parts are not run together"
        );
        let upper = String::from_utf8(by_old.to_vec()).unwrap().to_uppercase();
        assert!(new.verify(&parts, upper.as_bytes()), "hex in either case");
        for forged in [&b""[..], b"00", b"zzzzzzzzzzzzzzzzzzzz", &[b'0'; 20]] {
            assert!(!new.verify(&parts, forged), "{forged:?}");
        }
    }

    #[test]
    fn refuses_short_keys_and_makes_random_ones_that_differ() {
        assert_eq!(Keys::new(b"  short \n", None).unwrap_err(), ShortKey(5));
        assert!(Keys::new(b"long-enough-key-0123456789-0123456", Some(b"no")).is_err());
        let parts: [&[u8]; 1] = [b"x"];
        assert_ne!(Keys::random().sign(&parts), Keys::random().sign(&parts));
    }
}
