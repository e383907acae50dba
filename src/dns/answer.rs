//! One query in, one reply out: hickory-proto reads and writes the wire format (RFC 1035, EDNS
//! from RFC 6891); the [`Zone`] decides what the reply holds.

use hickory_proto::op::{
    Edns, Header, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_proto::rr::rdata::{NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::zone::{
    Labels, Lookup, Rdata, Zone, HOSTMASTER_LABEL, MAX_CHARACTER_STRING, NS_LABEL, SOA_EXPIRE,
    SOA_REFRESH, SOA_RETRY,
};

/// The largest DNS message, over TCP or UDP; anything longer is not read.
pub(super) const MAX_MESSAGE_LEN: usize = 65_535;
/// The UDP payload size this side advertises in its OPT record.
pub(super) const EDNS_UDP_SIZE: u16 = 1232;
const PLAIN_UDP_LIMIT: usize = 512;
/// The largest UDP answer, whatever size the client advertises.
pub(super) const MAX_UDP_LIMIT: usize = 4096;
/// The most records a query may carry after its question. A resolver sends at most an OPT and
/// perhaps a signature; the cap keeps a 64 KiB message of records chained by compression
/// pointers (about 2.6 ms to read, measured) from being read at all.
const MAX_RECORDS_IN_QUERY: u16 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The largest message that may be sent back to a client that sent `edns`.
    fn size_limit(self, edns: Option<&Edns>) -> usize {
        match (self, edns) {
            (Transport::Tcp, _) => MAX_MESSAGE_LEN,
            (Transport::Udp, None) => PLAIN_UDP_LIMIT,
            (Transport::Udp, Some(edns)) => {
                usize::from(edns.max_payload()).clamp(PLAIN_UDP_LIMIT, MAX_UDP_LIMIT)
            }
        }
    }
}

/// The reply to `query` in wire form; None when it is not worth answering: longer than a DNS
/// message, too short to hold a header, or a response (QR=1).
pub(super) fn answer_message(zone: &Zone, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
    if query.len() > MAX_MESSAGE_LEN {
        return None;
    }
    let header = Header::read(&mut BinDecoder::new(query)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let (reply, client_edns) = build_reply(zone, query, &header);
    encode(&reply, transport.size_limit(client_edns.as_ref()))
}

/// The reply, and the client's OPT record that sets how large it may be over UDP.
fn build_reply(zone: &Zone, query: &[u8], header: &Header) -> (Message, Option<Edns>) {
    let mut reply = Message::response(header.metadata.id, header.metadata.op_code);
    reply.metadata = Metadata::response_from_request(&header.metadata);
    let not_implemented = header.metadata.op_code != OpCode::Query;
    let Some((question, client_edns)) = read_query(query, header) else {
        reply.metadata.response_code = if not_implemented {
            ResponseCode::NotImp
        } else {
            ResponseCode::FormErr
        };
        return (reply, None);
    };
    reply.edns = client_edns.as_ref().map(reply_edns);
    reply.metadata.response_code = if not_implemented {
        ResponseCode::NotImp
    } else if client_edns.as_ref().is_some_and(|edns| edns.version() > 0) {
        ResponseCode::BADVERS
    } else {
        resolve(zone, &question, &mut reply)
    };
    reply.add_query(question);
    (reply, client_edns)
}

/// The single question and the OPT record, if the message is well formed.
///
/// A count other than one question, or more than a few records, is refused before decoding,
/// so a header claiming 65,535 of them costs nothing.
fn read_query(query: &[u8], header: &Header) -> Option<(Query, Option<Edns>)> {
    let counts = &header.counts;
    let records = [counts.answers, counts.authorities, counts.additionals]
        .into_iter()
        .map(u32::from)
        .sum::<u32>();
    if counts.queries != 1 || records > u32::from(MAX_RECORDS_IN_QUERY) {
        return None;
    }
    let mut message = Message::from_vec(query).ok()?;
    let question = message.queries.pop()?;
    Some((question, message.edns))
}

/// Our OPT record: our UDP size, version 0, no options, the client's DO bit echoed. The
/// extended rcode is filled in from the reply's rcode when it is written.
fn reply_edns(client: &Edns) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_UDP_SIZE)
        .set_version(0)
        .set_dnssec_ok(client.flags().dnssec_ok);
    edns
}

/// Puts the records answering `question` from `zone` in `reply`; returns the rcode.
fn resolve(zone: &Zone, question: &Query, reply: &mut Message) -> ResponseCode {
    if !matches!(question.query_class(), DNSClass::IN | DNSClass::ANY) {
        return ResponseCode::Refused;
    }
    let qtype = question.query_type();
    let records = match zone.lookup(&lowercase_labels(question.name())) {
        Lookup::Outside => return ResponseCode::Refused,
        _ if matches!(qtype, RecordType::AXFR | RecordType::IXFR) => return ResponseCode::Refused,
        Lookup::NxDomain => None,
        Lookup::Exists(records) => Some(records),
    };
    reply.metadata.authoritative = true;
    // Names in the reply are spelt as the client asked, so they compress into the question.
    let owner = question.name();
    let base_depth = zone.base_depth();
    let answers: Option<Vec<Record>> = records
        .iter()
        .flatten()
        .filter(|rdata| qtype == RecordType::ANY || rdata.record_type() == qtype)
        .map(|rdata| record(owner, base_depth, zone.ttl(), rdata))
        .collect();
    let Some(answers) = answers else {
        return ResponseCode::ServFail;
    };
    if answers.is_empty() {
        let apex = apex_of(owner, base_depth);
        let soa = apex.and_then(|apex| record(&apex, base_depth, zone.negative_ttl(), &zone.soa()));
        let Some(soa) = soa else {
            return ResponseCode::ServFail;
        };
        reply.add_authority(soa);
    }
    reply.add_answers(answers);
    if records.is_some() {
        ResponseCode::NoError
    } else {
        ResponseCode::NXDomain
    }
}

/// The last `depth` labels of `name`, which spell the base domain: `name` is at or under it.
fn apex_of(name: &Name, depth: usize) -> Option<Name> {
    // Not `num_labels`, which leaves out a leading `*`.
    let leading = name.iter().len().checked_sub(depth)?;
    name.iter()
        .skip(leading)
        .try_fold(Name::root(), Name::append_label)
        .ok()
}

/// One IN record at `owner`, a name at or under the base, which has `base_depth` labels. None
/// only if a name would be too long, which a usable base rules out.
fn record(owner: &Name, base_depth: usize, ttl: u32, rdata: &Rdata<'_>) -> Option<Record> {
    let under_apex = |apex: &Name, label: &str| apex.prepend_label(label.as_bytes()).ok();
    let data = match rdata {
        Rdata::Soa { serial, minimum } => {
            let apex = apex_of(owner, base_depth)?;
            RData::SOA(SOA::new(
                under_apex(&apex, NS_LABEL)?,
                under_apex(&apex, HOSTMASTER_LABEL)?,
                *serial,
                SOA_REFRESH,
                SOA_RETRY,
                SOA_EXPIRE,
                *minimum,
            ))
        }
        Rdata::Ns => RData::NS(NS(under_apex(&apex_of(owner, base_depth)?, NS_LABEL)?)),
        Rdata::Txt(value) => RData::TXT(character_strings(value)),
    };
    Some(Record::from_rdata(owner.clone(), ttl, data))
}

/// TXT RDATA: the value in character-strings of at most 255 bytes (one empty string for "").
fn character_strings(value: &str) -> TXT {
    let mut strings: Vec<&[u8]> = value.as_bytes().chunks(MAX_CHARACTER_STRING).collect();
    if strings.is_empty() {
        strings.push(b"");
    }
    TXT::from_bytes(strings)
}

/// The wire form; when it would exceed `limit`, a truncated one (TC=1, question and OPT only).
/// None only if even that cannot be written, which no reply built here comes near.
fn encode(reply: &Message, limit: usize) -> Option<Vec<u8>> {
    let written = match reply.to_vec() {
        Ok(full) if full.len() <= limit => return Some(full),
        Ok(_) => reply.truncate().to_vec(),
        Err(error) => {
            tracing::warn!(%error, "DNS reply could not be written; answering SERVFAIL");
            Message::error_msg(
                reply.metadata.id,
                reply.metadata.op_code,
                ResponseCode::ServFail,
            )
            .to_vec()
        }
    };
    written
        .inspect_err(|error| tracing::warn!(%error, "DNS reply could not be written"))
        .ok()
}

/// The labels of `name` in lower case, as the zone keys them.
pub(super) fn lowercase_labels(name: &Name) -> Labels {
    name.iter().map(<[u8]>::to_ascii_lowercase).collect()
}
