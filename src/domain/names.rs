//! Names and tokens with a fixed alphabet and length: each type's constructor is its only way in.

use super::violation::Violation;
use super::Code;
use serde::{Deserialize, Serialize};
use std::fmt;

const INVALID: Code = Code::InvalidFormat;

fn word_chars(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn check_chars(
    raw: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<(), Violation> {
    let length = raw.chars().count();
    if length < min || length > max || !raw.chars().all(allowed) {
        return Err(Violation::new(
            "",
            INVALID,
            format!("must be {min}–{max} characters of {rule}"),
        ));
    }
    Ok(())
}

/// The conversions every string newtype here shares; `parse` is the type's own.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Violation;
            fn try_from(raw: String) -> Result<Self, Violation> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Declares a string newtype whose `parse` enforces a length range and an alphabet.
macro_rules! restricted_string {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $allowed:expr, $rule:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, Violation> {
                check_chars(raw, $min, $max, $allowed, $rule)?;
                Ok(Self(raw.to_owned()))
            }
        }

        string_newtype!($name);
    };
}

restricted_string!(
    /// An account's name: its key, case-sensitive.
    AccountName, 1, 100, word_chars, "A–Z, a–z, 0–9, _ and -"
);
restricted_string!(
    /// The value of the deployment's custom SIP header for one number.
    CustomSipHeader, 1, 100, word_chars, "A–Z, a–z, 0–9, _ and -"
);
restricted_string!(
    /// The customer's label in the Direct Routing domains `<label>.1r1.<base>` and `<label>.1r2.<base>`.
    SubdomainLabel, 1, 10, word_chars, "A–Z, a–z, 0–9, _ and -"
);
restricted_string!(
    /// A DNS TXT token Microsoft 365 gives to prove the customer owns a Direct Routing subdomain.
    SubdomainToken, 1, 100, |c: char| word_chars(c) || c == '=', "A–Z, a–z, 0–9, =, _ and -"
);

/// A Microsoft Entra tenant ID: a GUID, kept in lower case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let groups: Vec<&str> = raw.split('-').collect();
        let lengths = groups.iter().map(|g| g.len()).collect::<Vec<_>>();
        let hex = groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        if lengths != [8, 4, 4, 4, 12] || !hex {
            return Err(Violation::new(
                "",
                INVALID,
                "must be a GUID such as a7f4bd5c-cc01-40f4-8baa-2b6bdb272b8a",
            ));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }
}

string_newtype!(TenantId);

/// The name of the deployment's custom SIP header: an RFC 3261 token of at most 32 bytes that
/// is not one of the headers SIP itself relies on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SipHeaderName(String);

/// Headers a proxy must not have overwritten by provisioning (full and compact forms).
const RESERVED_SIP_HEADERS: [&str; 20] = [
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "max-forwards",
    "content-length",
    "l",
    "content-type",
    "c",
    "route",
    "record-route",
    "authorization",
    "proxy-authorization",
];

impl SipHeaderName {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        // RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
        let token_char = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.chars().all(token_char) {
            return Err(Violation::new(
                "",
                INVALID,
                "must be an RFC 3261 token of 1–32 bytes (letters, digits and - . ! % * _ + ` ' ~)",
            ));
        }
        if RESERVED_SIP_HEADERS.contains(&raw.to_ascii_lowercase().as_str()) {
            return Err(Violation::new(
                "",
                INVALID,
                format!("must not be {raw}, a header SIP itself relies on"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

string_newtype!(SipHeaderName);

/// The deployment's DNS domain, under which Direct Routing uses `1r1.<base>` and `1r2.<base>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseDomain(String);

impl BaseDomain {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let lower = raw.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let labels: Vec<&str> = lower.split('.').collect();
        if lower.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
            return Err(Violation::new(
                "",
                INVALID,
                "must be a DNS name of two or more labels (letters, digits, inner hyphens; 1–63 each)",
            ));
        }
        Ok(Self(lower))
    }

    /// The per-region Direct Routing domain, `1r<region>.<base>`.
    pub fn region_domain(&self, region: u8) -> String {
        format!("{REGION_PREFIX}{region}.{}", self.0)
    }
}

string_newtype!(BaseDomain);

#[cfg(test)]
mod customer_domain_tests {
    use super::CustomerDomain;

    #[test]
    fn a_customer_domain_reads_back_as_it_was_written() {
        let written = CustomerDomain {
            label: "contoso",
            region: 2,
            base: "dep1.example",
        };
        assert_eq!(written.to_string(), "contoso.1r2.dep1.example");
        assert_eq!(
            CustomerDomain::parse("contoso.1r2.dep1.example", "dep1.example"),
            Some(written)
        );
        assert_eq!(
            CustomerDomain::parse("Contoso.1R2.DEP1.example", "dep1.example").map(|d| d.label),
            Some("Contoso")
        );
        for other in [
            "contoso.1r.dep1.example",
            "contoso.2r1.dep1.example",
            "contoso.1r1.dep2.example",
            ".1r1.dep1.example",
            "1r1.dep1.example",
            "contoso.1rx.dep1.example",
            "contoso.1r999.dep1.example",
        ] {
            assert_eq!(
                CustomerDomain::parse(other, "dep1.example"),
                None,
                "{other}"
            );
        }
    }
}

/// How a Direct Routing region's domain starts: `1r1`, `1r2`.
const REGION_PREFIX: &str = "1r";

/// A Direct Routing customer's domain, `<label>.1r<region>.<base>`: the one place that writes
/// it (Contact headers toward Teams, the DNS records, the portal, the length rule) and reads it
/// back (the Request-URI host of a call from Teams).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomerDomain<'a> {
    pub label: &'a str,
    pub region: u8,
    pub base: &'a str,
}

impl fmt::Display for CustomerDomain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{REGION_PREFIX}{}.{}",
            self.label, self.region, self.base
        )
    }
}

impl<'a> CustomerDomain<'a> {
    /// `host` read as a customer domain under `base` (any case), when it is one; its parts are
    /// `host`'s own.
    pub fn parse(host: &'a str, base: &str) -> Option<Self> {
        let (label, rest) = host.split_once('.')?;
        let (region, rest) = rest.split_once('.')?;
        let digits = region
            .get(..REGION_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(REGION_PREFIX))
            .map(|_| &region[REGION_PREFIX.len()..])?;
        if label.is_empty()
            || digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || !rest.eq_ignore_ascii_case(base)
        {
            return None;
        }
        Some(Self {
            label,
            region: digits.parse().ok()?,
            base: rest,
        })
    }
}
