//! Authoritative DNS for the Direct Routing domains: the customers' TXT verification tokens.
//!
//! Each account's two tokens are TXT records at `<label>.1r1.<base>` and `<label>.1r2.<base>`,
//! served over UDP and TCP; [`query_txt`] reads them back. The wire format (RFC 1035, EDNS from
//! RFC 6891) is written by hand: the responder only knows the apex (SOA and NS), TXT records and
//! the empty non-terminals between them.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

const HEADER_LEN: usize = 12;
const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;
/// The most compression pointers followed while reading one name.
const MAX_POINTER_JUMPS: usize = 32;
const MAX_CHARACTER_STRING: usize = 255;
const MAX_MESSAGE_LEN: usize = 65_535;
/// The question name always starts right after the header; answers point back to it.
const QUESTION_NAME_OFFSET: u16 = 12;

const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;

const OPCODE_QUERY: u8 = 0;
const RCODE_NOERROR: u16 = 0;
const RCODE_FORMERR: u16 = 1;
const RCODE_NXDOMAIN: u16 = 3;
const RCODE_NOTIMP: u16 = 4;
const RCODE_REFUSED: u16 = 5;
/// Extended rcode 1 in the OPT record, i.e. rcode 16.
const RCODE_BADVERS: u16 = 16;

const FLAG_QR: u16 = 0x8000;
const MASK_OPCODE: u16 = 0x7800;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const MASK_RCODE: u16 = 0x000f;
const EDNS_FLAG_DO: u16 = 0x8000;

/// The UDP payload size this side advertises in its OPT record.
const EDNS_UDP_SIZE: u16 = 1232;
const PLAIN_UDP_LIMIT: usize = 512;
const MAX_UDP_LIMIT: usize = 4096;

const SOA_REFRESH: u32 = 3600;
const SOA_RETRY: u32 = 600;
const SOA_EXPIRE: u32 = 86_400;
const NS_LABEL: &[u8] = b"ns1";
const HOSTMASTER_LABEL: &[u8] = b"hostmaster";

const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TCP_CONNECTIONS: usize = 256;
const SOCKET_ERROR_BACKOFF: Duration = Duration::from_millis(50);
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);
const QUERY_ATTEMPTS: usize = 2;

/// A domain name as labels in wire order (most specific first), without the root label.
type Labels = Vec<Vec<u8>>;

/// What is served: the apex SOA and NS of the base domain plus TXT records at or under it.
///
/// Immutable once built and shared behind a [`SharedZone`]; the default zone serves nothing.
#[derive(Clone, Debug)]
pub struct Zone {
    base: String,
    /// `None` when the base is empty or not a usable name: every query is then refused.
    base_labels: Option<Labels>,
    ttl: u32,
    serial: u32,
    txt: BTreeMap<Labels, Vec<String>>,
    /// Every name below the apex that exists: TXT owners and their ancestors (empty non-terminals).
    names: BTreeSet<Labels>,
}

impl Default for Zone {
    fn default() -> Self {
        Self::new("", 0)
    }
}

impl Zone {
    /// `base` is the base domain (no trailing dot, any case). `ttl` seconds for answers.
    ///
    /// An empty or invalid base gives a zone that refuses every query.
    pub fn new(base: &str, ttl: u32) -> Self {
        Self {
            base: base.strip_suffix('.').unwrap_or(base).to_ascii_lowercase(),
            base_labels: parse_text_name(base).filter(|labels| is_usable_base(labels)),
            ttl,
            serial: 1,
            txt: BTreeMap::new(),
            names: BTreeSet::new(),
        }
    }

    /// Sets the SOA serial (default 1).
    pub fn with_serial(mut self, serial: u32) -> Self {
        self.serial = serial;
        self
    }

    /// Adds one TXT value at `fqdn` (must be at or under base; case-insensitive; trailing dot
    /// allowed). Several values at one name are allowed (all returned).
    ///
    /// Names outside the base, malformed names, values too long for one record and exact
    /// duplicates are ignored: they could never be served.
    pub fn add_txt(&mut self, fqdn: &str, value: &str) {
        let Some(base) = &self.base_labels else {
            return;
        };
        let Some(name) = parse_text_name(fqdn) else {
            return;
        };
        if !is_at_or_under(&name, base) || txt_rdata_len(value) > usize::from(u16::MAX) {
            return;
        }
        for skip in 0..name.len() - base.len() {
            self.names.insert(name[skip..].to_vec());
        }
        let values = self.txt.entry(name).or_default();
        if !values.iter().any(|existing| existing == value) {
            values.push(value.to_owned());
        }
    }

    /// The TXT values served at `fqdn`, if any (case-insensitive).
    pub fn txt(&self, fqdn: &str) -> Option<&[String]> {
        let name = parse_text_name(fqdn)?;
        self.txt.get(&name).map(Vec::as_slice)
    }

    /// The base domain, lowercase and without a trailing dot.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Finds what is served at `name` (lowercase labels).
    fn lookup(&self, name: &[Vec<u8>]) -> Lookup<'_> {
        let Some(base) = self.base_labels.as_deref() else {
            return Lookup::Outside;
        };
        if !is_at_or_under(name, base) {
            return Lookup::Outside;
        }
        let mut records = Vec::new();
        if name.len() == base.len() {
            records.push(self.soa());
            records.push(Rdata::Ns);
        } else if !self.names.contains(name) {
            return Lookup::NxDomain;
        }
        let values = self.txt.get(name).map(Vec::as_slice).unwrap_or_default();
        records.extend(values.iter().map(|value| Rdata::Txt(value)));
        Lookup::Exists(records)
    }

    fn soa(&self) -> Rdata<'_> {
        Rdata::Soa {
            serial: self.serial,
            minimum: self.soa_minimum(),
        }
    }

    /// The SOA minimum field (the negative-caching TTL) is the answer TTL.
    fn soa_minimum(&self) -> u32 {
        self.ttl
    }

    /// TTL of the SOA in negative answers: min(ttl, SOA minimum).
    fn negative_ttl(&self) -> u32 {
        self.ttl.min(self.soa_minimum())
    }

    fn base_depth(&self) -> usize {
        self.base_labels.as_ref().map_or(0, Vec::len)
    }
}

/// Shared, swappable zone: the server reads it per query; the owner replaces the Arc on change.
pub type SharedZone = std::sync::Arc<std::sync::RwLock<std::sync::Arc<Zone>>>;

/// The answer to one DNS message (UDP payload, no TCP length prefix); None when the input is
/// not worth answering (too short to hold a header, or it is a response, QR=1).
///
/// The UDP size limit applies: 512 bytes, or the size the client advertises with EDNS
/// (at least 512, at most 4096); a larger answer comes back truncated (TC=1, no records).
pub fn respond(zone: &Zone, query: &[u8]) -> Option<Vec<u8>> {
    answer_message(zone, query, Transport::Udp)
}

/// Serves UDP on `socket` until the task is dropped/aborted.
///
/// Socket errors are logged and the loop carries on, so it only ends when aborted.
pub async fn serve_udp(socket: UdpSocket, zone: SharedZone) -> io::Result<()> {
    let mut buffer = vec![0; MAX_MESSAGE_LEN];
    loop {
        let (len, peer) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                tracing::warn!(%error, "DNS UDP receive failed");
                sleep(SOCKET_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Some(reply) = respond(&current_zone(&zone), &buffer[..len]) else {
            continue;
        };
        if let Err(error) = socket.send_to(&reply, peer).await {
            tracing::debug!(%error, %peer, "DNS UDP send failed");
        }
    }
}

/// Serves DNS over TCP (2-byte length prefix, several queries per connection, idle timeout
/// 10 s) until aborted.
///
/// Connections are served concurrently (at most 256) and closed when this task is dropped.
pub async fn serve_tcp(listener: TcpListener, zone: SharedZone) -> io::Result<()> {
    let mut connections = JoinSet::new();
    loop {
        let accepted = listener.accept().await;
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) if connections.len() < MAX_TCP_CONNECTIONS => {
                connections.spawn(serve_connection(stream, peer, Arc::clone(&zone)));
            }
            Ok((_, peer)) => tracing::debug!(%peer, "DNS TCP connection dropped: too many open"),
            Err(error) => {
                tracing::warn!(%error, "DNS TCP accept failed");
                sleep(SOCKET_ERROR_BACKOFF).await;
            }
        }
    }
}

/// Asks `server` over UDP for the TXT records at `name` (timeout 1 s, one retry); Ok(vec![])
/// for NXDOMAIN/NODATA; Err on timeout, a malformed answer, or an rcode other than
/// NOERROR/NXDOMAIN. Used by the gateway to check what it really serves.
///
/// A truncated answer is an error too (it would need TCP).
pub async fn query_txt(server: SocketAddr, name: &str) -> io::Result<Vec<String>> {
    let labels = parse_text_name(name)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a valid domain name"))?;
    let query = build_txt_query(random_id(), &labels);
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    for _ in 0..QUERY_ATTEMPTS {
        socket.send(&query).await?;
        if let Ok(result) =
            timeout(QUERY_TIMEOUT, receive_txt_answer(&socket, &query, &labels)).await
        {
            return result;
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no DNS answer from {server}"),
    ))
}

// ---------------------------------------------------------------------------------------------
// Answering

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The largest message that may be sent back to a client with this `edns`.
    fn size_limit(self, edns: Option<&Edns>) -> usize {
        match (self, edns) {
            (Transport::Tcp, _) => MAX_MESSAGE_LEN,
            (Transport::Udp, None) => PLAIN_UDP_LIMIT,
            (Transport::Udp, Some(edns)) => {
                usize::from(edns.udp_size).clamp(PLAIN_UDP_LIMIT, MAX_UDP_LIMIT)
            }
        }
    }
}

fn answer_message(zone: &Zone, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let header = Header::parse(query)?;
    if header.is_response() {
        return None;
    }
    let reply = build_reply(zone, query, &header);
    Some(reply.encode(transport.size_limit(reply.edns.as_ref())))
}

fn build_reply<'z>(zone: &'z Zone, query: &[u8], header: &Header) -> Reply<'z> {
    let mut reply = Reply::new(header);
    let not_implemented = header.opcode() != OPCODE_QUERY;
    let Some((question, edns)) = parse_query(query, header) else {
        reply.rcode = if not_implemented {
            RCODE_NOTIMP
        } else {
            RCODE_FORMERR
        };
        return reply;
    };
    reply.edns = edns;
    if not_implemented {
        reply.rcode = RCODE_NOTIMP;
    } else if edns.is_some_and(|edns| edns.version > 0) {
        reply.rcode = RCODE_BADVERS;
    } else {
        reply.resolve(zone, &question);
    }
    reply.question = Some(question);
    reply
}

/// The single question and the OPT record, if the message is well formed.
fn parse_query(query: &[u8], header: &Header) -> Option<(Question, Option<Edns>)> {
    if header.qdcount != 1 {
        return None;
    }
    let question = Question::parse(query)?;
    let edns = read_edns(query, header, question.end).ok()?;
    Some((question, edns))
}

/// What the zone holds at one name.
enum Lookup<'z> {
    /// Not at or under the base: not authoritative.
    Outside,
    /// Under the base but no such name.
    NxDomain,
    /// The name exists; these are all its records (none for an empty non-terminal).
    Exists(Vec<Rdata<'z>>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rdata<'z> {
    Soa { serial: u32, minimum: u32 },
    Ns,
    Txt(&'z str),
}

impl Rdata<'_> {
    fn rtype(&self) -> u16 {
        match self {
            Rdata::Soa { .. } => TYPE_SOA,
            Rdata::Ns => TYPE_NS,
            Rdata::Txt(_) => TYPE_TXT,
        }
    }
}

/// One record to send; its owner is a compression pointer into the echoed question.
struct Record<'z> {
    owner: u16,
    ttl: u32,
    rdata: Rdata<'z>,
}

/// A response being built.
struct Reply<'z> {
    id: u16,
    opcode_bits: u16,
    recursion_desired: bool,
    authoritative: bool,
    /// The full 12-bit rcode: the low 4 bits go in the header, the rest in the OPT record.
    rcode: u16,
    question: Option<Question>,
    /// Offset of the base domain's labels inside the echoed question name.
    apex_offset: u16,
    answers: Vec<Record<'z>>,
    authority: Vec<Record<'z>>,
    edns: Option<Edns>,
}

impl<'z> Reply<'z> {
    fn new(header: &Header) -> Self {
        Self {
            id: header.id,
            opcode_bits: header.flags & MASK_OPCODE,
            recursion_desired: header.flags & FLAG_RD != 0,
            authoritative: false,
            rcode: RCODE_NOERROR,
            question: None,
            apex_offset: QUESTION_NAME_OFFSET,
            answers: Vec::new(),
            authority: Vec::new(),
            edns: None,
        }
    }

    /// Fills in the rcode and records that answer `question` from `zone`.
    fn resolve(&mut self, zone: &'z Zone, question: &Question) {
        if !matches!(question.qclass, CLASS_IN | CLASS_ANY) {
            self.rcode = RCODE_REFUSED;
            return;
        }
        let lookup = zone.lookup(&lowercase(&question.labels));
        if matches!(lookup, Lookup::Outside) || matches!(question.qtype, TYPE_AXFR | TYPE_IXFR) {
            self.rcode = RCODE_REFUSED;
            return;
        }
        self.authoritative = true;
        self.apex_offset = apex_offset(&question.labels, zone.base_depth());
        let soa = Record {
            owner: self.apex_offset,
            ttl: zone.negative_ttl(),
            rdata: zone.soa(),
        };
        let Lookup::Exists(records) = lookup else {
            self.rcode = RCODE_NXDOMAIN;
            self.authority.push(soa);
            return;
        };
        self.answers = records
            .into_iter()
            .filter(|rdata| question.qtype == TYPE_ANY || rdata.rtype() == question.qtype)
            .map(|rdata| Record {
                owner: QUESTION_NAME_OFFSET,
                ttl: zone.ttl,
                rdata,
            })
            .collect();
        if self.answers.is_empty() {
            self.authority.push(soa);
        }
    }

    /// The wire form; when it would exceed `limit`, a truncated one (TC=1, no records).
    fn encode(&self, limit: usize) -> Vec<u8> {
        let full = self.encode_sections(true);
        if full.len() <= limit {
            full
        } else {
            self.encode_sections(false)
        }
    }

    fn encode_sections(&self, with_records: bool) -> Vec<u8> {
        let (answers, authority): (&[Record], &[Record]) = if with_records {
            (&self.answers, &self.authority)
        } else {
            (&[], &[])
        };
        let mut out = Vec::with_capacity(PLAIN_UDP_LIMIT);
        put_u16(&mut out, self.id);
        put_u16(&mut out, self.flags(!with_records));
        put_u16(&mut out, u16::from(self.question.is_some()));
        put_u16(&mut out, len_u16(answers.len()));
        put_u16(&mut out, len_u16(authority.len()));
        put_u16(&mut out, u16::from(self.edns.is_some()));
        if let Some(question) = &self.question {
            put_name(&mut out, &question.labels);
            put_u16(&mut out, question.qtype);
            put_u16(&mut out, question.qclass);
        }
        for record in answers.iter().chain(authority) {
            put_record(&mut out, record, self.apex_offset);
        }
        if let Some(edns) = &self.edns {
            let extended_rcode = u8::try_from(self.rcode >> 4).unwrap_or(u8::MAX);
            put_opt(&mut out, extended_rcode, edns.dnssec_ok);
        }
        out
    }

    fn flags(&self, truncated: bool) -> u16 {
        let mut flags = FLAG_QR | self.opcode_bits | (self.rcode & MASK_RCODE);
        if self.authoritative {
            flags |= FLAG_AA;
        }
        if truncated {
            flags |= FLAG_TC;
        }
        if self.recursion_desired {
            flags |= FLAG_RD;
        }
        flags
    }
}

/// Offset of the last `base_depth` labels of the question name, which spell the base domain.
fn apex_offset(question: &[Vec<u8>], base_depth: usize) -> u16 {
    let leading = question.len().saturating_sub(base_depth);
    let skipped: usize = question
        .iter()
        .take(leading)
        .map(|label| label.len() + 1)
        .sum();
    QUESTION_NAME_OFFSET + len_u16(skipped)
}

// ---------------------------------------------------------------------------------------------
// Reading the wire format

/// The input is not a well-formed DNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Malformed;

#[derive(Clone, Copy, Debug)]
struct Header {
    id: u16,
    flags: u16,
    qdcount: u16,
    ancount: u16,
    nscount: u16,
    arcount: u16,
}

impl Header {
    fn parse(message: &[u8]) -> Option<Self> {
        Some(Self {
            id: read_u16(message, 0)?,
            flags: read_u16(message, 2)?,
            qdcount: read_u16(message, 4)?,
            ancount: read_u16(message, 6)?,
            nscount: read_u16(message, 8)?,
            arcount: read_u16(message, 10)?,
        })
    }

    fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    fn opcode(&self) -> u8 {
        (self.flags & MASK_OPCODE).to_be_bytes()[0] >> 3
    }

    fn rcode(&self) -> u16 {
        self.flags & MASK_RCODE
    }
}

/// The first question, with its name in the case the client used.
#[derive(Clone, Debug)]
struct Question {
    labels: Labels,
    qtype: u16,
    qclass: u16,
    /// Offset just past the question.
    end: usize,
}

impl Question {
    fn parse(message: &[u8]) -> Option<Self> {
        let (labels, after_name) = read_name(message, HEADER_LEN)?;
        Some(Self {
            labels,
            qtype: read_u16(message, after_name)?,
            qclass: read_u16(message, after_name + 2)?,
            end: after_name + 4,
        })
    }
}

/// A resource record as found in a message.
struct RawRecord<'m> {
    name: Labels,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &'m [u8],
}

/// The client's OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Edns {
    udp_size: u16,
    extended_rcode: u8,
    version: u8,
    dnssec_ok: bool,
}

impl Edns {
    fn from_record(record: &RawRecord<'_>) -> Result<Self, Malformed> {
        if !record.name.is_empty() {
            return Err(Malformed);
        }
        let [extended_rcode, version, flags_high, flags_low] = record.ttl.to_be_bytes();
        Ok(Self {
            udp_size: record.class,
            extended_rcode,
            version,
            dnssec_ok: u16::from_be_bytes([flags_high, flags_low]) & EDNS_FLAG_DO != 0,
        })
    }
}

/// Reads the sections after the question and returns the OPT record, if there is exactly one.
fn read_edns(
    message: &[u8],
    header: &Header,
    after_question: usize,
) -> Result<Option<Edns>, Malformed> {
    let (_, _, additional) = read_sections(message, header, after_question).ok_or(Malformed)?;
    let mut opts = additional.iter().filter(|record| record.rtype == TYPE_OPT);
    let edns = opts.next().map(Edns::from_record).transpose()?;
    if opts.next().is_some() {
        return Err(Malformed);
    }
    Ok(edns)
}

/// The answer, authority and additional sections.
type Sections<'m> = (Vec<RawRecord<'m>>, Vec<RawRecord<'m>>, Vec<RawRecord<'m>>);

fn read_sections<'m>(message: &'m [u8], header: &Header, start: usize) -> Option<Sections<'m>> {
    let (answers, pos) = read_records(message, start, header.ancount)?;
    let (authority, pos) = read_records(message, pos, header.nscount)?;
    let (additional, _) = read_records(message, pos, header.arcount)?;
    Some((answers, authority, additional))
}

fn read_records(message: &[u8], mut pos: usize, count: u16) -> Option<(Vec<RawRecord<'_>>, usize)> {
    let mut records = Vec::new();
    for _ in 0..count {
        let (record, next) = read_record(message, pos)?;
        records.push(record);
        pos = next;
    }
    Some((records, pos))
}

fn read_record(message: &[u8], pos: usize) -> Option<(RawRecord<'_>, usize)> {
    let (name, after_name) = read_name(message, pos)?;
    let rdata_len = usize::from(read_u16(message, after_name + 8)?);
    let rdata_start = after_name + 10;
    let record = RawRecord {
        name,
        rtype: read_u16(message, after_name)?,
        class: read_u16(message, after_name + 2)?,
        ttl: read_u32(message, after_name + 4)?,
        rdata: message.get(rdata_start..rdata_start + rdata_len)?,
    };
    Some((record, rdata_start + rdata_len))
}

/// Reads the name at `start`, following compression pointers; returns its labels (case kept) and
/// the offset just past the name where it started. Only backward pointers are followed, at most
/// [`MAX_POINTER_JUMPS`] of them, and the name may not exceed 255 bytes.
fn read_name(message: &[u8], start: usize) -> Option<(Labels, usize)> {
    let mut labels = Vec::new();
    let mut pos = start;
    let mut end = None;
    let mut name_len = 1;
    let mut jumps = 0;
    loop {
        let len_byte = *message.get(pos)?;
        match len_byte & 0xc0 {
            0x00 if len_byte == 0 => return Some((labels, end.unwrap_or(pos + 1))),
            0x00 => {
                let len = usize::from(len_byte);
                name_len += len + 1;
                if name_len > MAX_NAME_LEN {
                    return None;
                }
                labels.push(message.get(pos + 1..pos + 1 + len)?.to_vec());
                pos += 1 + len;
            }
            0xc0 => {
                let target = usize::from(u16::from_be_bytes([
                    len_byte & 0x3f,
                    *message.get(pos + 1)?,
                ]));
                jumps += 1;
                if target >= pos || jumps > MAX_POINTER_JUMPS {
                    return None;
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None,
        }
    }
}

fn read_u16(message: &[u8], pos: usize) -> Option<u16> {
    let bytes = message.get(pos..pos + 2)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn read_u32(message: &[u8], pos: usize) -> Option<u32> {
    let bytes = message.get(pos..pos + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Writing the wire format

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Writes one label; callers only pass labels of at most 63 bytes.
fn put_label(out: &mut Vec<u8>, label: &[u8]) {
    out.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(label);
}

fn put_name(out: &mut Vec<u8>, labels: &[Vec<u8>]) {
    for label in labels {
        put_label(out, label);
    }
    out.push(0);
}

fn put_pointer(out: &mut Vec<u8>, offset: u16) {
    put_u16(out, 0xc000 | offset);
}

fn put_record(out: &mut Vec<u8>, record: &Record<'_>, apex_offset: u16) {
    put_pointer(out, record.owner);
    put_u16(out, record.rdata.rtype());
    put_u16(out, CLASS_IN);
    put_u32(out, record.ttl);
    let length_at = out.len();
    put_u16(out, 0);
    put_rdata(out, &record.rdata, apex_offset);
    let rdata_len = len_u16(out.len() - length_at - 2).to_be_bytes();
    out[length_at..length_at + 2].copy_from_slice(&rdata_len);
}

fn put_rdata(out: &mut Vec<u8>, rdata: &Rdata<'_>, apex_offset: u16) {
    match rdata {
        Rdata::Soa { serial, minimum } => {
            put_label(out, NS_LABEL);
            put_pointer(out, apex_offset);
            put_label(out, HOSTMASTER_LABEL);
            put_pointer(out, apex_offset);
            for value in [*serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, *minimum] {
                put_u32(out, value);
            }
        }
        Rdata::Ns => {
            put_label(out, NS_LABEL);
            put_pointer(out, apex_offset);
        }
        Rdata::Txt(value) => put_character_strings(out, value.as_bytes()),
    }
}

/// TXT RDATA: the value in character-strings of at most 255 bytes (one empty string for "").
fn put_character_strings(out: &mut Vec<u8>, value: &[u8]) {
    if value.is_empty() {
        out.push(0);
    }
    for chunk in value.chunks(MAX_CHARACTER_STRING) {
        put_label(out, chunk);
    }
}

fn txt_rdata_len(value: &str) -> usize {
    let len = value.len();
    len + len.div_ceil(MAX_CHARACTER_STRING).max(1)
}

/// An OPT record: root owner, our UDP size, version 0, no options.
fn put_opt(out: &mut Vec<u8>, extended_rcode: u8, dnssec_ok: bool) {
    out.push(0);
    put_u16(out, TYPE_OPT);
    put_u16(out, EDNS_UDP_SIZE);
    let flags = if dnssec_ok { EDNS_FLAG_DO } else { 0 };
    let [flags_high, flags_low] = flags.to_be_bytes();
    put_u32(
        out,
        u32::from_be_bytes([extended_rcode, 0, flags_high, flags_low]),
    );
    put_u16(out, 0);
}

/// Lengths here are bounded by the message size; saturate rather than wrap just in case.
fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

// ---------------------------------------------------------------------------------------------
// Names

/// Parses a presentation-format name (`a.b.c`, trailing dot optional) into lowercase labels.
fn parse_text_name(text: &str) -> Option<Labels> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    let labels: Labels = trimmed
        .split('.')
        .map(|label| label.as_bytes().to_ascii_lowercase())
        .collect();
    let labels_ok = labels
        .iter()
        .all(|label| !label.is_empty() && label.len() <= MAX_LABEL_LEN);
    (labels_ok && wire_len(&labels) <= MAX_NAME_LEN).then_some(labels)
}

/// A base must be a real name short enough that `hostmaster.<base>` still fits.
fn is_usable_base(labels: &[Vec<u8>]) -> bool {
    let hostmaster_label_len = HOSTMASTER_LABEL.len() + 1;
    !labels.is_empty() && wire_len(labels) + hostmaster_label_len <= MAX_NAME_LEN
}

fn wire_len(labels: &[Vec<u8>]) -> usize {
    labels.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}

fn lowercase(labels: &[Vec<u8>]) -> Labels {
    labels
        .iter()
        .map(|label| label.to_ascii_lowercase())
        .collect()
}

/// Whether `name` equals `ancestor` or lies below it (both lowercase).
fn is_at_or_under(name: &[Vec<u8>], ancestor: &[Vec<u8>]) -> bool {
    name.ends_with(ancestor)
}

// ---------------------------------------------------------------------------------------------
// Sockets

fn current_zone(zone: &SharedZone) -> Arc<Zone> {
    let guard = zone.read().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(&guard)
}

async fn serve_connection(mut stream: TcpStream, peer: SocketAddr, zone: SharedZone) {
    if let Err(error) = exchange_messages(&mut stream, &zone).await {
        tracing::debug!(%error, %peer, "DNS TCP connection failed");
    }
}

/// Answers length-prefixed queries until the client closes or stays idle for 10 s.
async fn exchange_messages(stream: &mut TcpStream, zone: &SharedZone) -> io::Result<()> {
    loop {
        let Ok(frame) = timeout(TCP_IDLE_TIMEOUT, read_frame(stream)).await else {
            return Ok(());
        };
        let Some(query) = frame? else {
            return Ok(());
        };
        let Some(reply) = answer_message(&current_zone(zone), &query, Transport::Tcp) else {
            continue;
        };
        timeout(TCP_IDLE_TIMEOUT, write_frame(stream, &reply))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "DNS TCP write timed out"))??;
    }
}

/// One length-prefixed message, or `None` when the client closed the connection between messages.
async fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0; 2];
    match stream.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let mut message = vec![0; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut message).await?;
    Ok(Some(message))
}

async fn write_frame(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(message.len() + 2);
    put_u16(&mut frame, len_u16(message.len()));
    frame.extend_from_slice(message);
    stream.write_all(&frame).await
}

// ---------------------------------------------------------------------------------------------
// Client

fn random_id() -> u16 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let [low, high, ..] = RandomState::new().hash_one(nanos).to_le_bytes();
    u16::from_le_bytes([low, high])
}

/// A non-recursive TXT query for `name` with an OPT record.
fn build_txt_query(id: u16, name: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + wire_len(name) + 15);
    for field in [id, 0, 1, 0, 0, 1] {
        put_u16(&mut out, field);
    }
    put_name(&mut out, name);
    put_u16(&mut out, TYPE_TXT);
    put_u16(&mut out, CLASS_IN);
    put_opt(&mut out, 0, false);
    out
}

/// Waits for the datagram answering `query` (same ID) and decodes it.
async fn receive_txt_answer(
    socket: &UdpSocket,
    query: &[u8],
    name: &[Vec<u8>],
) -> io::Result<Vec<String>> {
    let mut buffer = vec![0; MAX_MESSAGE_LEN];
    loop {
        let len = socket.recv(&mut buffer).await?;
        let message = &buffer[..len];
        if message.len() >= 2 && message[..2] == query[..2] {
            return parse_txt_answer(message, name);
        }
    }
}

fn parse_txt_answer(message: &[u8], name: &[Vec<u8>]) -> io::Result<Vec<String>> {
    let header = Header::parse(message).ok_or_else(|| malformed("shorter than a header"))?;
    if !header.is_response() || header.opcode() != OPCODE_QUERY || header.qdcount != 1 {
        return Err(malformed("not a response to one query"));
    }
    if header.flags & FLAG_TC != 0 {
        return Err(malformed("truncated"));
    }
    let question = Question::parse(message).ok_or_else(|| malformed("bad question"))?;
    if lowercase(&question.labels) != name
        || question.qtype != TYPE_TXT
        || question.qclass != CLASS_IN
    {
        return Err(malformed("question does not match the query"));
    }
    let (answers, _, additional) =
        read_sections(message, &header, question.end).ok_or_else(|| malformed("bad record"))?;
    let extended = additional
        .iter()
        .find(|record| record.rtype == TYPE_OPT)
        .map(Edns::from_record)
        .transpose()
        .map_err(|Malformed| malformed("bad OPT record"))?
        .map_or(0, |edns| edns.extended_rcode);
    match u16::from(extended) << 4 | header.rcode() {
        RCODE_NOERROR => answers
            .iter()
            .filter(|record| record.rtype == TYPE_TXT && record.class == CLASS_IN)
            .filter(|record| lowercase(&record.name) == name)
            .map(|record| decode_txt(record.rdata))
            .collect(),
        RCODE_NXDOMAIN => Ok(Vec::new()),
        rcode => Err(io::Error::other(format!(
            "DNS server answered rcode {rcode}"
        ))),
    }
}

/// Joins the character-strings of one TXT record's RDATA.
fn decode_txt(rdata: &[u8]) -> io::Result<String> {
    let mut text = Vec::with_capacity(rdata.len());
    let mut rest = rdata;
    while let Some((&len, tail)) = rest.split_first() {
        let (chunk, after) = tail
            .split_at_checked(usize::from(len))
            .ok_or_else(|| malformed("TXT string overruns its record"))?;
        text.extend_from_slice(chunk);
        rest = after;
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed DNS answer: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::RwLock;

    const ID: u16 = 0xbeef;
    const TYPE_A: u16 = 1;
    const BASE: &str = "dep1.commsgw.example";
    const R1: &str = "contoso.1r1.dep1.commsgw.example";
    const R2: &str = "contoso.1r2.dep1.commsgw.example";

    fn zone() -> Zone {
        let mut zone = Zone::new("Dep1.CommsGW.Example.", 300).with_serial(2024);
        zone.add_txt(R1, "token-one");
        zone.add_txt("CONTOSO.1r2.dep1.commsgw.example.", "token_two=");
        zone
    }

    /// Labels in the case given (unlike `parse_text_name`).
    fn labels(name: &str) -> Labels {
        name.split('.')
            .filter(|label| !label.is_empty())
            .map(|label| label.as_bytes().to_vec())
            .collect()
    }

    /// A query with RD set; `edns` is (UDP size, version, DO).
    fn build_query(name: &str, qtype: u16, qclass: u16, edns: Option<(u16, u8, bool)>) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [ID, FLAG_RD, 1, 0, 0, u16::from(edns.is_some())] {
            put_u16(&mut out, field);
        }
        put_name(&mut out, &labels(name));
        put_u16(&mut out, qtype);
        put_u16(&mut out, qclass);
        if let Some((size, version, dnssec_ok)) = edns {
            out.push(0);
            put_u16(&mut out, TYPE_OPT);
            put_u16(&mut out, size);
            put_u32(
                &mut out,
                u32::from_be_bytes([0, version, u8::from(dnssec_ok) << 7, 0]),
            );
            put_u16(&mut out, 0);
        }
        out
    }

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        build_query(name, qtype, CLASS_IN, None)
    }

    struct Parsed<'m> {
        header: Header,
        question: Option<Question>,
        answers: Vec<RawRecord<'m>>,
        authority: Vec<RawRecord<'m>>,
        additional: Vec<RawRecord<'m>>,
    }

    impl Parsed<'_> {
        fn rcode(&self) -> u16 {
            let opt = self.additional.iter().find(|r| r.rtype == TYPE_OPT);
            let extended = opt.map_or(0, |r| u16::from(r.ttl.to_be_bytes()[0]));
            extended << 4 | self.header.rcode()
        }

        fn flag(&self, flag: u16) -> bool {
            self.header.flags & flag != 0
        }
    }

    fn parse(message: &[u8]) -> Parsed<'_> {
        let header = Header::parse(message).expect("header");
        assert!(header.qdcount <= 1);
        let question = (header.qdcount == 1).then(|| Question::parse(message).expect("question"));
        let start = question.as_ref().map_or(HEADER_LEN, |q| q.end);
        let (answers, authority, additional) =
            read_sections(message, &header, start).expect("sections");
        Parsed {
            header,
            question,
            answers,
            authority,
            additional,
        }
    }

    fn ask(zone: &Zone, message: &[u8]) -> Vec<u8> {
        respond(zone, message).expect("an answer")
    }

    fn assert_soa_authority(parsed: &Parsed<'_>) {
        assert!(parsed.answers.is_empty());
        assert_eq!(parsed.authority.len(), 1);
        let soa = &parsed.authority[0];
        assert_eq!(soa.rtype, TYPE_SOA);
        assert_eq!(soa.ttl, 300);
        assert_eq!(lowercase(&soa.name), labels(BASE));
    }

    #[test]
    fn serves_txt_at_both_regions() {
        let zone = zone();
        for (name, token) in [(R1, "token-one"), (R2, "token_two=")] {
            for qtype in [TYPE_TXT, TYPE_ANY] {
                let reply = ask(&zone, &query(name, qtype));
                let parsed = parse(&reply);
                assert_eq!(parsed.header.id, ID);
                assert_eq!(parsed.rcode(), RCODE_NOERROR);
                assert!(parsed.flag(FLAG_QR) && parsed.flag(FLAG_AA) && parsed.flag(FLAG_RD));
                assert!(
                    !parsed.flag(FLAG_TC) && parsed.header.flags & 0x0080 == 0,
                    "RA=0"
                );
                assert_eq!(parsed.answers.len(), 1);
                let answer = &parsed.answers[0];
                assert_eq!(
                    (answer.rtype, answer.class, answer.ttl),
                    (TYPE_TXT, CLASS_IN, 300)
                );
                assert_eq!(decode_txt(answer.rdata).unwrap(), token);
                let question_end = parsed.question.as_ref().unwrap().end;
                assert_eq!(reply[question_end..question_end + 2], [0xc0, 0x0c]);
            }
        }
    }

    #[test]
    fn matching_is_case_insensitive_and_echoes_the_question_case() {
        let zone = zone();
        let asked = "CONTOSO.1R1.Dep1.commsgw.EXAMPLE";
        let reply = ask(&zone, &query(asked, TYPE_TXT));
        let parsed = parse(&reply);
        assert_eq!(parsed.question.as_ref().unwrap().labels, labels(asked));
        assert_eq!(parsed.answers[0].name, labels(asked));
        assert_eq!(decode_txt(parsed.answers[0].rdata).unwrap(), "token-one");
        assert_eq!(
            zone.txt("Contoso.1R2.DEP1.commsgw.example."),
            Some(&["token_two=".to_owned()][..])
        );
        assert_eq!(zone.base(), BASE);
    }

    #[test]
    fn unknown_name_is_nxdomain_with_soa() {
        let zone = zone();
        for name in [
            "fabrikam.1r1.dep1.commsgw.example",
            "x.contoso.1r1.dep1.commsgw.example",
        ] {
            let reply = ask(&zone, &query(name, TYPE_TXT));
            let parsed = parse(&reply);
            assert_eq!(parsed.rcode(), RCODE_NXDOMAIN);
            assert!(parsed.flag(FLAG_AA));
            assert_soa_authority(&parsed);
        }
    }

    #[test]
    fn other_type_at_txt_name_is_nodata() {
        let parsed_reply = ask(&zone(), &query(R1, TYPE_A));
        let parsed = parse(&parsed_reply);
        assert_eq!(parsed.rcode(), RCODE_NOERROR);
        assert!(parsed.flag(FLAG_AA));
        assert_soa_authority(&parsed);
    }

    #[test]
    fn empty_non_terminal_is_nodata() {
        let zone = zone();
        for name in ["1r1.dep1.commsgw.example", "1R2.dep1.commsgw.example"] {
            let reply = ask(&zone, &query(name, TYPE_TXT));
            let parsed = parse(&reply);
            assert_eq!(parsed.rcode(), RCODE_NOERROR);
            assert_soa_authority(&parsed);
        }
    }

    #[test]
    fn names_outside_the_zone_are_refused() {
        let zone = zone();
        for name in [
            "example.com",
            "commsgw.example",
            "xdep1.commsgw.example",
            "",
        ] {
            let reply = ask(&zone, &query(name, TYPE_TXT));
            let parsed = parse(&reply);
            assert_eq!(parsed.rcode(), RCODE_REFUSED, "{name}");
            assert!(!parsed.flag(FLAG_AA));
            assert!(parsed.answers.is_empty() && parsed.authority.is_empty());
            assert_eq!(parsed.question.unwrap().labels, labels(name));
        }
        let default_zone = Zone::default();
        let reply = ask(&default_zone, &query(R1, TYPE_TXT));
        assert_eq!(parse(&reply).rcode(), RCODE_REFUSED);
    }

    #[test]
    fn other_classes_zone_transfers_and_opcodes_are_refused_or_not_implemented() {
        let zone = zone();
        let chaos = ask(&zone, &build_query(R1, TYPE_TXT, 3, None));
        assert_eq!(parse(&chaos).rcode(), RCODE_REFUSED);
        let any_class = ask(&zone, &build_query(R1, TYPE_TXT, CLASS_ANY, None));
        assert_eq!(parse(&any_class).answers.len(), 1);
        let axfr = ask(&zone, &query(BASE, TYPE_AXFR));
        assert_eq!(parse(&axfr).rcode(), RCODE_REFUSED);
        let mut notify = build_query(R1, TYPE_SOA, CLASS_IN, Some((1232, 0, false)));
        notify[2] |= 4 << 3;
        let reply = ask(&zone, &notify);
        let parsed = parse(&reply);
        assert_eq!(parsed.rcode(), RCODE_NOTIMP);
        assert_eq!(parsed.header.flags & MASK_OPCODE, 4 << 11);
        assert_eq!(parsed.header.id, ID);
        assert!(parsed.question.is_some() && parsed.additional.len() == 1);
        let mut bare_update = query(R1, TYPE_SOA)[..HEADER_LEN].to_vec();
        bare_update[2] |= 5 << 3;
        bare_update[5] = 0;
        assert_eq!(parse(&ask(&zone, &bare_update)).rcode(), RCODE_NOTIMP);
    }

    #[test]
    fn garbage_gets_formerr() {
        let zone = zone();
        let good = query(R1, TYPE_TXT);
        let mut no_question = good[..HEADER_LEN].to_vec();
        no_question[5] = 0;
        let mut two_questions = good.clone();
        two_questions[5] = 2;
        let truncated_question = good[..good.len() - 3].to_vec();
        let mut bad_label_type = good.clone();
        bad_label_type[HEADER_LEN] = 0x47;
        let mut self_pointer = good[..HEADER_LEN].to_vec();
        self_pointer.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1]);
        let mut forward_pointer = good[..HEADER_LEN].to_vec();
        forward_pointer.extend_from_slice(&[0xc0, 0x0e, 1, b'a', 0, 0, 16, 0, 1]);
        let mut too_long = good[..HEADER_LEN].to_vec();
        for _ in 0..5 {
            put_label(&mut too_long, &[b'a'; 63]);
        }
        too_long.extend_from_slice(&[0, 0, 16, 0, 1]);
        let mut missing_additional = good.clone();
        missing_additional[11] = 1;
        let cases = [
            no_question,
            two_questions,
            truncated_question,
            bad_label_type,
            self_pointer,
            forward_pointer,
            too_long,
            missing_additional,
        ];
        for (index, case) in cases.iter().enumerate() {
            let reply = ask(&zone, case);
            let parsed = parse(&reply);
            assert_eq!(parsed.rcode(), RCODE_FORMERR, "case {index}");
            assert_eq!(parsed.header.id, ID);
            assert!(parsed.flag(FLAG_QR) && parsed.flag(FLAG_RD));
            assert!(parsed.answers.is_empty());
        }
    }

    #[test]
    fn short_messages_and_responses_are_ignored() {
        let zone = zone();
        assert!(respond(&zone, &[]).is_none());
        assert!(respond(&zone, &[0; HEADER_LEN - 1]).is_none());
        let answer = ask(&zone, &query(R1, TYPE_TXT));
        assert!(respond(&zone, &answer).is_none());
    }

    #[test]
    fn compression_pointers_in_the_question_are_followed() {
        // The name ends with a pointer to offset 11, the low byte of ARCOUNT = 0: the root.
        let mut message = query(R1, TYPE_TXT);
        let name_end = message.len() - 5;
        message.splice(name_end..name_end + 1, [0xc0, 0x0b]);
        let reply = ask(&zone(), &message);
        let parsed = parse(&reply);
        assert_eq!(parsed.rcode(), RCODE_NOERROR);
        assert_eq!(parsed.question.unwrap().labels, labels(R1));
        assert_eq!(decode_txt(parsed.answers[0].rdata).unwrap(), "token-one");
    }

    fn read_soa(message: &[u8], record: &RawRecord<'_>) -> (Labels, Labels, [u32; 5]) {
        let offset = record.rdata.as_ptr() as usize - message.as_ptr() as usize;
        let (mname, after_mname) = read_name(message, offset).unwrap();
        let (rname, after_rname) = read_name(message, after_mname).unwrap();
        let numbers = [0, 4, 8, 12, 16].map(|at| read_u32(message, after_rname + at).unwrap());
        assert_eq!(after_rname + 20, offset + record.rdata.len());
        (lowercase(&mname), lowercase(&rname), numbers)
    }

    #[test]
    fn apex_serves_soa_and_ns() {
        let zone = zone();
        let reply = ask(&zone, &query(BASE, TYPE_SOA));
        let parsed = parse(&reply);
        assert_eq!(parsed.rcode(), RCODE_NOERROR);
        assert!(parsed.flag(FLAG_AA));
        assert_eq!(parsed.answers.len(), 1);
        let (mname, rname, numbers) = read_soa(&reply, &parsed.answers[0]);
        assert_eq!(mname, labels("ns1.dep1.commsgw.example"));
        assert_eq!(rname, labels("hostmaster.dep1.commsgw.example"));
        assert_eq!(numbers, [2024, 3600, 600, 86_400, 300]);
        assert_eq!(
            Zone::new(BASE, 60).soa(),
            Rdata::Soa {
                serial: 1,
                minimum: 60
            }
        );

        let reply = ask(&zone, &query(BASE, TYPE_NS));
        let parsed = parse(&reply);
        assert_eq!(parsed.answers.len(), 1);
        let ns = &parsed.answers[0];
        assert_eq!(ns.rtype, TYPE_NS);
        let offset = ns.rdata.as_ptr() as usize - reply.as_ptr() as usize;
        let (target, _) = read_name(&reply, offset).unwrap();
        assert_eq!(target, labels("ns1.dep1.commsgw.example"));

        let reply = ask(&zone, &query(BASE, TYPE_A));
        assert_soa_authority(&parse(&reply));
        let reply = ask(&zone, &query(BASE, TYPE_ANY));
        let types: Vec<u16> = parse(&reply).answers.iter().map(|r| r.rtype).collect();
        assert_eq!(types, [TYPE_SOA, TYPE_NS]);
    }

    #[test]
    fn edns_is_echoed() {
        let zone = zone();
        let plain = ask(&zone, &query(R1, TYPE_TXT));
        assert!(parse(&plain).additional.is_empty());
        for dnssec_ok in [false, true] {
            let reply = ask(
                &zone,
                &build_query(R1, TYPE_TXT, CLASS_IN, Some((4096, 0, dnssec_ok))),
            );
            let parsed = parse(&reply);
            assert_eq!(parsed.answers.len(), 1);
            assert_eq!(parsed.additional.len(), 1);
            let opt = &parsed.additional[0];
            assert!(opt.name.is_empty() && opt.rdata.is_empty());
            assert_eq!((opt.rtype, opt.class), (TYPE_OPT, EDNS_UDP_SIZE));
            let expected_flags = if dnssec_ok { 0x8000 } else { 0 };
            assert_eq!(opt.ttl, expected_flags);
        }
    }

    #[test]
    fn edns_version_above_zero_gets_badvers() {
        let reply = ask(
            &zone(),
            &build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 1, false))),
        );
        let parsed = parse(&reply);
        assert_eq!(parsed.header.rcode(), 0);
        assert_eq!(parsed.rcode(), RCODE_BADVERS);
        assert_eq!(
            parsed.additional[0].ttl.to_be_bytes()[1],
            0,
            "we speak version 0"
        );
        assert!(parsed.answers.is_empty());
        assert!(parsed.question.is_some());
    }

    #[test]
    fn oversize_udp_answers_are_truncated() {
        let mut zone = zone();
        for index in 0..10 {
            zone.add_txt(R1, &format!("{index}{}", "x".repeat(99)));
        }
        let reply = ask(&zone, &query(R1, TYPE_TXT));
        let parsed = parse(&reply);
        assert!(reply.len() <= 512);
        assert!(parsed.flag(FLAG_TC));
        assert!(parsed.answers.is_empty() && parsed.authority.is_empty());
        assert_eq!(parsed.question.unwrap().labels, labels(R1));

        let small_edns = ask(
            &zone,
            &build_query(R1, TYPE_TXT, CLASS_IN, Some((256, 0, false))),
        );
        let parsed = parse(&small_edns);
        assert!(parsed.flag(FLAG_TC) && small_edns.len() <= 512);
        assert_eq!(parsed.additional.len(), 1, "OPT kept when truncated");

        let big_edns = ask(
            &zone,
            &build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, false))),
        );
        let parsed = parse(&big_edns);
        assert!(!parsed.flag(FLAG_TC) && big_edns.len() > 512);
        assert_eq!(parsed.answers.len(), 11);

        let tcp = answer_message(&zone, &query(R1, TYPE_TXT), Transport::Tcp).unwrap();
        let parsed = parse(&tcp);
        assert!(!parsed.flag(FLAG_TC));
        assert_eq!(parsed.answers.len(), 11);
    }

    #[test]
    fn long_values_are_split_into_character_strings() {
        let long: String = (0..600u32)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let mut zone = Zone::new(BASE, 300);
        zone.add_txt(R1, &long);
        zone.add_txt(R2, "");
        let reply = ask(
            &zone,
            &build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, false))),
        );
        let parsed = parse(&reply);
        let rdata = parsed.answers[0].rdata;
        assert_eq!(rdata.len(), 603);
        assert_eq!((rdata[0], rdata[256], rdata[512]), (255, 255, 90));
        assert_eq!(decode_txt(rdata).unwrap(), long);
        let reply = ask(&zone, &query(R2, TYPE_TXT));
        assert_eq!(parse(&reply).answers[0].rdata, [0]);
    }

    #[test]
    fn add_txt_keeps_values_under_the_base_once() {
        let mut zone = zone();
        zone.add_txt(R1, "token-one");
        zone.add_txt(R1, "token-three");
        zone.add_txt("contoso.example.com", "elsewhere");
        zone.add_txt("bad..dep1.commsgw.example", "bad");
        assert_eq!(zone.txt(R1).unwrap(), ["token-one", "token-three"]);
        assert!(zone.txt("contoso.example.com").is_none());
        assert!(zone.txt("1r1.dep1.commsgw.example").is_none());
        let reply = ask(&zone, &query("CONTOSO.example.com", TYPE_TXT));
        assert_eq!(parse(&reply).rcode(), RCODE_REFUSED);
    }

    #[test]
    fn mangled_queries_never_panic() {
        let zone = zone();
        let seed_query = build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, true)));
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut message = seed_query.clone();
            for _ in 0..next() % 6 {
                let at = (next() % message.len() as u64) as usize;
                message[at] = next().to_le_bytes()[0];
            }
            message.truncate((next() % (message.len() as u64 + 1)) as usize);
            if let Some(reply) = respond(&zone, &message) {
                assert!(reply.len() <= MAX_UDP_LIMIT);
                let _ = parse_txt_answer(&reply, &labels(R1));
            }
        }
    }

    fn shared(zone: Zone) -> SharedZone {
        Arc::new(RwLock::new(Arc::new(zone)))
    }

    #[tokio::test]
    async fn query_txt_reads_what_is_served() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = socket.local_addr().unwrap();
        let zone = shared(zone());
        let task = tokio::spawn(serve_udp(socket, Arc::clone(&zone)));

        assert_eq!(query_txt(server, R1).await.unwrap(), ["token-one"]);
        assert_eq!(
            query_txt(server, &R2.to_uppercase()).await.unwrap(),
            ["token_two="]
        );
        assert!(query_txt(server, "nobody.1r1.dep1.commsgw.example")
            .await
            .unwrap()
            .is_empty());
        assert!(query_txt(server, "1r1.dep1.commsgw.example")
            .await
            .unwrap()
            .is_empty());
        let refused = query_txt(server, "example.com").await.unwrap_err();
        assert!(refused.to_string().contains("rcode 5"), "{refused}");
        assert!(query_txt(server, "bad..name").await.is_err());

        let mut next = Zone::new(BASE, 300);
        next.add_txt(R1, "rotated");
        *zone.write().unwrap() = Arc::new(next);
        assert_eq!(query_txt(server, R1).await.unwrap(), ["rotated"]);
        task.abort();
    }

    #[tokio::test]
    async fn query_txt_times_out_after_one_retry() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let started = std::time::Instant::now();
        let error = query_txt(silent.local_addr().unwrap(), R1)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= QUERY_TIMEOUT * 2);
        let mut buffer = [0; 512];
        let (first, _) = silent.recv_from(&mut buffer).await.unwrap();
        let (second, _) = silent.recv_from(&mut buffer).await.unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn parse_txt_answer_rejects_bad_answers() {
        let name = labels(R1);
        let mut answer = ask(
            &zone(),
            &build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, false))),
        );
        assert_eq!(parse_txt_answer(&answer, &name).unwrap(), ["token-one"]);
        assert!(parse_txt_answer(&answer, &labels(R2)).is_err());
        assert!(parse_txt_answer(&answer[..answer.len() - 1], &name).is_err());
        answer[3] = (answer[3] & 0xf0) | 2;
        assert!(parse_txt_answer(&answer, &name)
            .unwrap_err()
            .to_string()
            .contains("rcode 2"));
    }

    #[tokio::test]
    async fn tcp_serves_several_queries_per_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(serve_tcp(listener, shared(zone())));
        let mut stream = TcpStream::connect(address).await.unwrap();
        for (name, token) in [(R1, "token-one"), (R2, "token_two=")] {
            write_frame(&mut stream, &query(name, TYPE_TXT))
                .await
                .unwrap();
            let reply = read_frame(&mut stream).await.unwrap().expect("a reply");
            let parsed = parse(&reply);
            assert_eq!(decode_txt(parsed.answers[0].rdata).unwrap(), token);
        }
        task.abort();
        let closed = read_frame(&mut stream).await;
        assert!(
            matches!(closed, Ok(None) | Err(_)),
            "connections end with the server"
        );
    }
}
