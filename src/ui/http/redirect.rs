//! Where the server may send a browser next. A target that came from outside (`next`, `back`,
//! a search carried along) is read the way a browser will read it, and anything that is not a
//! path on this site becomes `/`. Depends on nothing but axum's response types.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The longest target followed; a longer one goes to `/`.
pub const MAX_TARGET_LEN: usize = 2048;

/// `raw` as a path on this site, or `/`.
///
/// Browsers drop tabs, CR and LF anywhere in a URL, trim leading and trailing control
/// characters and spaces, and read `\` as `/`; so `/\t/evil.example` and `/\evil.example` are
/// both `//evil.example`, another site. This reads the target the same way first, then keeps it
/// only if it is an absolute path that does not start a network path (`//`), with no scheme.
/// What is kept is percent-encoded where a `Location` header could not carry it.
pub fn local_target(raw: &str) -> String {
    if raw.len() > MAX_TARGET_LEN {
        return "/".to_owned();
    }
    let read: String = raw
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let local = read.starts_with('/')
        && !read.starts_with("//")
        && !read.contains('\\')
        && !read.chars().any(char::is_control);
    if !local {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(read.len());
    for byte in read.bytes() {
        if byte.is_ascii_graphic() {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A `303 See Other` to `location`. A location that cannot be a header value goes to `/`
/// instead, so no input can turn a redirect into an error or a panic.
pub fn see_other(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response()
}

/// A `303 See Other` to `raw` read as a local target (see `local_target`).
pub fn see_other_local(raw: &str) -> Response {
    see_other(&local_target(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_paths_on_this_site_are_followed() {
        for (raw, expected) in [
            ("/numbers", "/numbers"),
            ("/numbers?q=44&sort=number", "/numbers?q=44&sort=number"),
            ("", "/"),
            ("numbers", "/"),
            ("//evil.example/", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("/\\evil.example", "/"),
            ("\\/evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("/\r\n/evil.example", "/"),
            ("\t//evil.example", "/"),
            (" //evil.example", "/"),
            ("/%09/evil.example", "/%09/evil.example"),
            ("/a\r\nSet-Cookie: x=1", "/aSet-Cookie:%20x=1"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/a\u{0}b", "/"),
        ] {
            assert_eq!(local_target(raw), expected, "{raw:?}");
        }
        assert_eq!(
            local_target(&format!("/{}", "a".repeat(MAX_TARGET_LEN))),
            "/"
        );
    }

    /// What a browser would make of a `Location` value relative to this site: another host
    /// when, after it drops tabs and newlines and reads `\` as `/`, it starts `//` or a scheme.
    fn browser_leaves_site(location: &str) -> bool {
        let read: String = location
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .map(|c| if c == '\\' { '/' } else { c })
            .collect();
        let read = read.trim_start_matches(|c: char| c <= ' ');
        read.starts_with("//")
            || read
                .split_once(':')
                .is_some_and(|(scheme, _)| !scheme.contains('/') && !scheme.is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Random and structured targets alike: the answer is always a valid header value on
        /// this site, and no redirect panics.
        #[test]
        fn any_target_stays_on_the_site(raw in prop_oneof![
            any::<String>(),
            "[/\\\\\t\r\n: a-z.%0-9?#@]{0,40}",
            "(/|//|/\\\\|\\\\|https?:|javascript:)?[\t\r\n ]{0,3}[/\\\\]{0,3}[a-z.]{0,12}",
        ]) {
            let target = local_target(&raw);
            prop_assert!(target.starts_with('/'));
            prop_assert!(!browser_leaves_site(&target), "{raw:?} -> {target:?}");
            prop_assert!(HeaderValue::from_str(&target).is_ok());
            let response = see_other_local(&raw);
            prop_assert_eq!(response.status(), StatusCode::SEE_OTHER);
        }
    }
}
