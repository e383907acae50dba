//! SIP messages as the edge handles them: located, not decoded, so that what it does not
//! change is copied byte for byte (header order, compact forms, folding, bodies).

use std::ops::Range;

/// The headers the edge reads or edits; everything else is [`Name::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    Route,
    RecordRoute,
    MaxForwards,
    ContentLength,
    Other,
}

impl Name {
    fn of(raw: &[u8]) -> Self {
        let is = |name: &[u8]| raw.eq_ignore_ascii_case(name);
        match raw.len() {
            1 => match raw[0].to_ascii_lowercase() {
                b'v' => Name::Via,
                b'f' => Name::From,
                b't' => Name::To,
                b'i' => Name::CallId,
                b'm' => Name::Contact,
                b'l' => Name::ContentLength,
                _ => Name::Other,
            },
            2 if is(b"to") => Name::To,
            3 if is(b"via") => Name::Via,
            4 if is(b"from") => Name::From,
            4 if is(b"cseq") => Name::CSeq,
            5 if is(b"route") => Name::Route,
            7 if is(b"call-id") => Name::CallId,
            7 if is(b"contact") => Name::Contact,
            12 if is(b"record-route") => Name::RecordRoute,
            12 if is(b"max-forwards") => Name::MaxForwards,
            14 if is(b"content-length") => Name::ContentLength,
            _ => Name::Other,
        }
    }
}

/// One header line (with its continuation lines) in the raw message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: Name,
    /// The name as written.
    pub name_at: Range<usize>,
    /// The value, without the leading white space and the final CRLF.
    pub value_at: Range<usize>,
    /// The whole line, CRLF included.
    pub line_at: Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Range<usize>,
        uri: Range<usize>,
    },
    Response {
        status: u16,
    },
}

/// A parsed message over the bytes it came in.
#[derive(Debug)]
pub struct Message<'a> {
    pub raw: &'a [u8],
    pub start: StartLine,
    /// The start line, CRLF included.
    pub start_at: Range<usize>,
    pub headers: Vec<Header>,
    /// From the empty line that ends the headers (CRLF CRLF's second half) to the end.
    pub tail_at: Range<usize>,
}

/// Why a datagram is not a SIP message the edge can handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    NoEndOfHeaders,
    BadStartLine,
    BadHeader,
}

/// Where the line that starts at `from` ends: the position of its CRLF. A lone CR or LF would
/// end a header line for some parsers and not for others, so a header hidden that way could
/// pass unseen: both are refused.
fn line_end(raw: &[u8], from: usize) -> Result<usize, ParseError> {
    let lf = from + memchr::memchr(b'\n', &raw[from..]).ok_or(ParseError::NoEndOfHeaders)?;
    if lf == from || raw[lf - 1] != b'\r' || memchr::memchr(b'\r', &raw[from..lf - 1]).is_some() {
        return Err(ParseError::BadHeader);
    }
    Ok(lf - 1)
}

fn trim(raw: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.start < range.end && matches!(raw[range.start], b' ' | b'\t') {
        range.start += 1;
    }
    while range.end > range.start && matches!(raw[range.end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        range.end -= 1;
    }
    range
}

impl<'a> Message<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<Self, ParseError> {
        let first_end = line_end(raw, 0)?;
        let start = parse_start_line(raw, first_end)?;
        let mut headers: Vec<Header> = Vec::with_capacity(24);
        let mut at = first_end + 2;
        // Where the empty line that ends the headers starts.
        let head_end = loop {
            let cr = line_end(raw, at)?;
            if cr == at {
                break at;
            }
            let end = cr + 2;
            if matches!(raw[at], b' ' | b'\t') {
                // A continuation of the previous header's value.
                let last = headers.last_mut().ok_or(ParseError::BadHeader)?;
                last.line_at.end = end;
                last.value_at.end = trim(raw, last.value_at.start..end).end;
            } else {
                let colon = at + memchr::memchr(b':', &raw[at..cr]).ok_or(ParseError::BadHeader)?;
                let name_at = trim(raw, at..colon);
                if name_at.is_empty() {
                    return Err(ParseError::BadHeader);
                }
                headers.push(Header {
                    name: Name::of(&raw[name_at.clone()]),
                    name_at,
                    value_at: trim(raw, colon + 1..end),
                    line_at: at..end,
                });
            }
            at = end;
        };
        // The body is what Content-Length says; bytes after it are not part of this message.
        let mut lengths = headers.iter().filter(|h| h.name == Name::ContentLength);
        let mut end = raw.len();
        if let Some(length) = lengths.next() {
            if lengths.next().is_some() {
                return Err(ParseError::BadHeader);
            }
            let declared: usize = std::str::from_utf8(&raw[length.value_at.clone()])
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(ParseError::BadHeader)?;
            end = (head_end + 2)
                .checked_add(declared)
                .filter(|e| *e <= raw.len())
                .ok_or(ParseError::BadHeader)?;
        }
        Ok(Self {
            raw,
            start,
            start_at: 0..first_end + 2,
            headers,
            tail_at: head_end..end,
        })
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> &[u8] {
        match &self.start {
            StartLine::Request { method, .. } => &self.raw[method.clone()],
            StartLine::Response { .. } => self.cseq_method(),
        }
    }

    pub fn request_uri(&self) -> Option<&[u8]> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(&self.raw[uri.clone()]),
            StartLine::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    pub fn value(&self, header: &Header) -> &'a [u8] {
        &self.raw[header.value_at.clone()]
    }

    pub fn first(&self, name: Name) -> Option<&Header> {
        self.headers.iter().find(|h| h.name == name)
    }

    pub fn first_value(&self, name: Name) -> Option<&'a [u8]> {
        self.first(name).map(|h| self.value(h))
    }

    /// Whether a header is named `name` (any case; extension headers have no compact form).
    pub fn is_named(&self, header: &Header, name: &str) -> bool {
        self.raw[header.name_at.clone()].eq_ignore_ascii_case(name.as_bytes())
    }

    fn cseq_method(&self) -> &'a [u8] {
        let value = self.first_value(Name::CSeq).unwrap_or_default();
        value
            .split(|b| *b == b' ')
            .filter(|part| !part.is_empty())
            .nth(1)
            .unwrap_or_default()
    }

    /// The To header's tag: present on requests inside a dialog.
    pub fn to_tag(&self) -> Option<&'a [u8]> {
        param(header_params(self.first_value(Name::To)?), b"tag")
    }
}

fn parse_start_line(raw: &[u8], end: usize) -> Result<StartLine, ParseError> {
    let line = &raw[..end];
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        let code = rest.get(..3).ok_or(ParseError::BadStartLine)?;
        let status = std::str::from_utf8(code)
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|c| (100..700).contains(c))
            .ok_or(ParseError::BadStartLine)?;
        return Ok(StartLine::Response { status });
    }
    let first_space = line
        .iter()
        .position(|b| *b == b' ')
        .ok_or(ParseError::BadStartLine)?;
    let last_space = line
        .iter()
        .rposition(|b| *b == b' ')
        .ok_or(ParseError::BadStartLine)?;
    if first_space == 0 || last_space <= first_space + 1 || &line[last_space + 1..] != b"SIP/2.0" {
        return Err(ParseError::BadStartLine);
    }
    Ok(StartLine::Request {
        method: 0..first_space,
        uri: first_space + 1..last_space,
    })
}

/// The first value of a comma-separated header value (Via, Route, Record-Route, Contact),
/// and where it ends.
pub fn first_of_list(value: &[u8]) -> (&[u8], Option<usize>) {
    let mut in_quotes = false;
    let mut in_angle = false;
    for (i, b) in value.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'<' if !in_quotes => in_angle = true,
            b'>' if !in_quotes => in_angle = false,
            b',' if !in_quotes && !in_angle => return (&value[..i], Some(i)),
            _ => {}
        }
    }
    (value, None)
}

/// The URI in a name-addr (`"Name" <sip:…>;params`) or addr-spec (`sip:…;params`) value.
pub fn uri_of(value: &[u8]) -> &[u8] {
    if let (Some(open), Some(close)) = (
        value.iter().position(|b| *b == b'<'),
        value.iter().position(|b| *b == b'>'),
    ) {
        if open < close {
            return &value[open + 1..close];
        }
    }
    let end = value.iter().position(|b| *b == b';').unwrap_or(value.len());
    trim_bytes(&value[..end])
}

/// The parameters after a name-addr's `>`, or after an addr-spec's URI.
pub fn header_params(value: &[u8]) -> &[u8] {
    match value.iter().position(|b| *b == b'>') {
        Some(close) => &value[close + 1..],
        None => match value.iter().position(|b| *b == b';') {
            Some(semi) => &value[semi..],
            None => b"",
        },
    }
}

/// A `;name=value` parameter's value (`Some(b"")` for a bare `;name`).
pub fn param<'v>(params: &'v [u8], name: &[u8]) -> Option<&'v [u8]> {
    params.split(|b| *b == b';').skip(1).find_map(|part| {
        let part = trim_bytes(part);
        let (key, value) = match part.iter().position(|b| *b == b'=') {
            Some(eq) => (&part[..eq], &part[eq + 1..]),
            None => (part, &b""[..]),
        };
        key.eq_ignore_ascii_case(name).then_some(trim_bytes(value))
    })
}

/// `raw` without spaces and tabs at either end.
pub fn trim_bytes(mut raw: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = raw {
        raw = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = raw {
        raw = rest;
    }
    raw
}

/// Where the parts of a `sip:`/`sips:`/`tel:` URI are, relative to the URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriParts {
    pub user: Option<Range<usize>>,
    pub host: Range<usize>,
    pub port: Option<u16>,
    /// From the first `;` after the host (or the end).
    pub params_at: usize,
}

pub fn uri_parts(uri: &[u8]) -> Option<UriParts> {
    let colon = uri.iter().position(|b| *b == b':')?;
    let scheme = &uri[..colon];
    let rest_at = colon + 1;
    if scheme.eq_ignore_ascii_case(b"tel") {
        let end = uri[rest_at..]
            .iter()
            .position(|b| *b == b';')
            .map_or(uri.len(), |p| rest_at + p);
        return Some(UriParts {
            user: Some(rest_at..end),
            host: end..end,
            port: None,
            params_at: end,
        });
    }
    if !scheme.eq_ignore_ascii_case(b"sip") && !scheme.eq_ignore_ascii_case(b"sips") {
        return None;
    }
    // The user part may hold `;` (`+1555;npdi;rn=…@host`): `@` is looked for up to the headers.
    let before_headers = uri[rest_at..]
        .iter()
        .position(|b| matches!(b, b'?' | b'>'))
        .map_or(uri.len(), |p| rest_at + p);
    let (user, host_at) = match uri[rest_at..before_headers]
        .iter()
        .rposition(|b| *b == b'@')
    {
        Some(at) => {
            let user_end = uri[rest_at..rest_at + at]
                .iter()
                .position(|b| *b == b';')
                .map_or(rest_at + at, |p| rest_at + p);
            (Some(rest_at..user_end), rest_at + at + 1)
        }
        None => (None, rest_at),
    };
    // A user part may hold `;`: the host starts after `@`, so look for params again.
    let params_at = uri[host_at..]
        .iter()
        .position(|b| matches!(b, b';' | b'?'))
        .map_or(uri.len(), |p| host_at + p);
    let hostport = &uri[host_at..params_at];
    let (host_end, port) = if hostport.first() == Some(&b'[') {
        let close = hostport.iter().position(|b| *b == b']')?;
        let port = hostport.get(close + 2..).and_then(parse_port);
        (host_at + close + 1, port)
    } else {
        match hostport.iter().position(|b| *b == b':') {
            Some(c) => (host_at + c, parse_port(&hostport[c + 1..])),
            None => (params_at, None),
        }
    };
    Some(UriParts {
        user,
        host: host_at..host_end,
        port,
        params_at,
    })
}

fn parse_port(raw: &[u8]) -> Option<u16> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// The user part of a URI, as a telephone number would be written in it (`+4416…`); a
/// `tel:` URI's number.
pub fn uri_user(uri: &[u8]) -> Option<&str> {
    let parts = uri_parts(uri)?;
    std::str::from_utf8(&uri[parts.user?]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:+441632960001@10.0.0.1:5060;user=phone SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.8;branch=z9hG4bK0\r\n\
f: \"Caller\" <sip:+15550100000@10.0.0.9>;tag=a1\r\n\
To: <sip:+441632960001@10.0.0.1>\r\n\
i: call-1\r\n\
CSeq: 1 INVITE\r\n\
Subject: folded\r\n over two lines\r\n\
Content-Length: 4\r\n\r\nabcd";

    #[test]
    fn finds_headers_in_compact_form_and_folded_lines() {
        let m = Message::parse(INVITE).unwrap();
        assert_eq!(m.method(), b"INVITE");
        assert_eq!(m.headers.len(), 7);
        assert_eq!(m.headers[0].name, Name::Via);
        assert_eq!(m.headers[1].name, Name::From);
        assert_eq!(m.value(&m.headers[5]), b"folded\r\n over two lines");
        assert_eq!(&m.raw[m.tail_at.clone()], b"\r\nabcd");
        assert_eq!(m.to_tag(), None);
        let uri = m.request_uri().unwrap();
        assert_eq!(uri_user(uri), Some("+441632960001"));
        assert_eq!(
            uri_user(uri_of(m.first_value(Name::From).unwrap())),
            Some("+15550100000")
        );
        assert_eq!(
            param(header_params(m.first_value(Name::From).unwrap()), b"tag"),
            Some(&b"a1"[..])
        );
        let (top, rest) = first_of_list(m.first_value(Name::Via).unwrap());
        assert_eq!(top, b"SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1");
        assert!(rest.is_some());
    }

    #[test]
    fn reads_uri_parts() {
        let p = uri_parts(b"sip:+1555@[2001:db8::1]:5070;transport=tcp").unwrap();
        assert_eq!(p.port, Some(5070));
        let p = uri_parts(b"sip:edge.example;lr").unwrap();
        assert_eq!(p.user, None);
        assert_eq!(p.port, None);
        assert_eq!(
            uri_user(b"tel:+441632960001;phone-context=x"),
            Some("+441632960001")
        );
    }

    #[test]
    fn refuses_hidden_headers_and_reads_only_the_declared_body() {
        let lone_lf = b"OPTIONS sip:a SIP/2.0\r\nX-A: y\nX-Hidden: z\r\n\r\n";
        assert_eq!(Message::parse(lone_lf).unwrap_err(), ParseError::BadHeader);
        let twice = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(Message::parse(twice).unwrap_err(), ParseError::BadHeader);
        let smuggled = b"OPTIONS sip:a SIP/2.0\r\nl: 2\r\n\r\nokINVITE sip:b SIP/2.0\r\n\r\n";
        let m = Message::parse(smuggled).unwrap();
        assert_eq!(&m.raw[m.tail_at.clone()], b"\r\nok");
        assert_eq!(
            uri_user(b"sip:+15550100000;npdi;rn=+15550199999@10.0.0.1;user=phone"),
            Some("+15550100000")
        );
    }

    #[test]
    fn refuses_what_is_not_sip() {
        assert_eq!(
            Message::parse(b"hello").unwrap_err(),
            ParseError::NoEndOfHeaders
        );
        assert_eq!(
            Message::parse(b"HELLO\r\n\r\n").unwrap_err(),
            ParseError::BadStartLine
        );
        assert_eq!(
            Message::parse(b"SIP/2.0 200 OK\r\nno colon\r\n\r\n").unwrap_err(),
            ParseError::BadHeader
        );
    }
}
