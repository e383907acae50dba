//! The responder's behaviour on the wire: queries are built byte by byte (so they can be bent
//! out of shape), replies are read back with hickory-proto.

use std::io;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::answer::{answer_message, Transport, MAX_UDP_LIMIT};
use super::client::{parse_txt_answer, QUERY_TIMEOUT};
use super::server::{read_frame, write_frame};
use super::zone::{Labels, Rdata};
use super::*;

const ID: u16 = 0xbeef;
const HEADER_LEN: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;
const TYPE_IXFR: u16 = 251;
const TYPE_AXFR: u16 = 252;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
const FLAG_RD: u16 = 0x0100;
const BASE: &str = "dep1.commsgw.example";
const R1: &str = "contoso.1r1.dep1.commsgw.example";
const R2: &str = "contoso.1r2.dep1.commsgw.example";

fn zone() -> Zone {
    let mut zone = Zone::new("Dep1.CommsGW.Example.", 300).with_serial(2024);
    zone.add_txt(R1, "token-one");
    zone.add_txt("CONTOSO.1r2.dep1.commsgw.example.", "token_two=");
    zone
}

/// Labels in the case given (unlike the zone, which lowercases them).
fn labels(name: &str) -> Labels {
    name.split('.')
        .filter(|label| !label.is_empty())
        .map(|label| label.as_bytes().to_vec())
        .collect()
}

fn name_labels(name: &Name) -> Labels {
    name.iter().map(<[u8]>::to_vec).collect()
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_label(out: &mut Vec<u8>, label: &[u8]) {
    out.push(u8::try_from(label.len()).unwrap());
    out.extend_from_slice(label);
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in labels(name) {
        put_label(out, &label);
    }
    out.push(0);
}

/// A header with RD set and these section counts.
fn header(counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [ID, FLAG_RD].into_iter().chain(counts) {
        put_u16(&mut out, field);
    }
    out
}

/// An OPT record: `(UDP size, version, DO)`.
fn put_opt(out: &mut Vec<u8>, (size, version, dnssec_ok): (u16, u8, bool)) {
    out.push(0);
    put_u16(out, TYPE_OPT);
    put_u16(out, size);
    out.extend_from_slice(&[0, version, u8::from(dnssec_ok) << 7, 0]);
    put_u16(out, 0);
}

/// A query with RD set; `edns` is (UDP size, version, DO).
fn build_query(name: &str, qtype: u16, qclass: u16, edns: Option<(u16, u8, bool)>) -> Vec<u8> {
    let mut out = header([1, 0, 0, u16::from(edns.is_some())]);
    put_name(&mut out, name);
    put_u16(&mut out, qtype);
    put_u16(&mut out, qclass);
    if let Some(edns) = edns {
        put_opt(&mut out, edns);
    }
    out
}

fn query(name: &str, qtype: u16) -> Vec<u8> {
    build_query(name, qtype, CLASS_IN, None)
}

fn ask(zone: &Zone, message: &[u8]) -> Vec<u8> {
    respond(zone, message).expect("an answer")
}

fn parse(reply: &[u8]) -> Message {
    Message::from_vec(reply).expect("a well-formed reply")
}

/// The full rcode (hickory adds the OPT record's high bits when it reads the reply).
fn rcode(reply: &Message) -> u16 {
    u16::from(reply.metadata.response_code)
}

fn txt_data(record: &Record) -> &TXT {
    match &record.data {
        RData::TXT(txt) => txt,
        other => panic!("not TXT: {other:?}"),
    }
}

fn txt_value(record: &Record) -> String {
    String::from_utf8(txt_data(record).txt_data.concat()).unwrap()
}

fn assert_soa_authority(reply: &Message) {
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities.len(), 1);
    let soa = &reply.authorities[0];
    assert_eq!(soa.record_type(), RecordType::SOA);
    assert_eq!(soa.ttl, 300);
    assert_eq!(name_labels(&soa.name.to_lowercase()), labels(BASE));
}

/// The last 11 bytes of `reply`, where the OPT record is when there is one.
fn opt_tail(reply: &[u8]) -> &[u8] {
    &reply[reply.len() - 11..]
}

#[test]
fn serves_txt_at_both_regions() {
    let zone = zone();
    for (name, token) in [(R1, "token-one"), (R2, "token_two=")] {
        for qtype in [TYPE_TXT, TYPE_ANY] {
            let asked = query(name, qtype);
            let reply = ask(&zone, &asked);
            let parsed = parse(&reply);
            let header = &parsed.metadata;
            assert_eq!(header.id, ID);
            assert_eq!(header.response_code, ResponseCode::NoError);
            assert!(header.authoritative && header.recursion_desired);
            assert!(!header.truncation && !header.recursion_available);
            assert_eq!(parsed.answers.len(), 1);
            let answer = &parsed.answers[0];
            assert_eq!(
                (answer.record_type(), answer.dns_class, answer.ttl),
                (RecordType::TXT, DNSClass::IN, 300)
            );
            assert_eq!(txt_value(answer), token);
            let question_end = asked.len();
            assert_eq!(
                reply[question_end..question_end + 2],
                [0xc0, 0x0c],
                "the answer's owner points at the question"
            );
        }
    }
}

#[test]
fn matching_is_case_insensitive_and_echoes_the_question_case() {
    let zone = zone();
    let asked = "CONTOSO.1R1.Dep1.commsgw.EXAMPLE";
    let parsed = parse(&ask(&zone, &query(asked, TYPE_TXT)));
    assert_eq!(name_labels(parsed.queries[0].name()), labels(asked));
    assert_eq!(name_labels(&parsed.answers[0].name), labels(asked));
    assert_eq!(txt_value(&parsed.answers[0]), "token-one");
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
        "*.1r1.dep1.commsgw.example",
    ] {
        let parsed = parse(&ask(&zone, &query(name, TYPE_TXT)));
        assert_eq!(parsed.metadata.response_code, ResponseCode::NXDomain);
        assert!(parsed.metadata.authoritative);
        assert_soa_authority(&parsed);
    }
}

#[test]
fn other_type_at_txt_name_is_nodata() {
    let parsed = parse(&ask(&zone(), &query(R1, TYPE_A)));
    assert_eq!(parsed.metadata.response_code, ResponseCode::NoError);
    assert!(parsed.metadata.authoritative);
    assert_soa_authority(&parsed);
}

#[test]
fn empty_non_terminal_is_nodata() {
    let zone = zone();
    for name in ["1r1.dep1.commsgw.example", "1R2.dep1.commsgw.example"] {
        let parsed = parse(&ask(&zone, &query(name, TYPE_TXT)));
        assert_eq!(parsed.metadata.response_code, ResponseCode::NoError);
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
        let parsed = parse(&ask(&zone, &query(name, TYPE_TXT)));
        assert_eq!(
            parsed.metadata.response_code,
            ResponseCode::Refused,
            "{name}"
        );
        assert!(!parsed.metadata.authoritative);
        assert!(parsed.answers.is_empty() && parsed.authorities.is_empty());
        assert_eq!(name_labels(parsed.queries[0].name()), labels(name));
    }
    let default_zone = Zone::default();
    let reply = ask(&default_zone, &query(R1, TYPE_TXT));
    assert_eq!(parse(&reply).metadata.response_code, ResponseCode::Refused);
}

#[test]
fn other_classes_zone_transfers_and_opcodes_are_refused_or_not_implemented() {
    let zone = zone();
    let chaos = ask(&zone, &build_query(R1, TYPE_TXT, 3, None));
    assert_eq!(parse(&chaos).metadata.response_code, ResponseCode::Refused);
    let any_class = ask(&zone, &build_query(R1, TYPE_TXT, CLASS_ANY, None));
    assert_eq!(parse(&any_class).answers.len(), 1);
    for transfer in [TYPE_AXFR, TYPE_IXFR] {
        let reply = ask(&zone, &query(BASE, transfer));
        assert_eq!(parse(&reply).metadata.response_code, ResponseCode::Refused);
    }
    let mut notify = build_query(R1, TYPE_SOA, CLASS_IN, Some((1232, 0, false)));
    notify[2] |= 4 << 3;
    let parsed = parse(&ask(&zone, &notify));
    assert_eq!(parsed.metadata.response_code, ResponseCode::NotImp);
    assert_eq!(parsed.metadata.op_code, OpCode::Notify);
    assert_eq!(parsed.metadata.id, ID);
    assert!(parsed.queries.len() == 1 && parsed.edns.is_some());
    let mut bare_update = header([0, 0, 0, 0]);
    bare_update[2] |= 5 << 3;
    assert_eq!(
        parse(&ask(&zone, &bare_update)).metadata.response_code,
        ResponseCode::NotImp
    );
    let mut unknown_opcode = query(R1, TYPE_TXT);
    unknown_opcode[2] |= 9 << 3;
    let reply = ask(&zone, &unknown_opcode);
    assert_eq!((reply[2] >> 3 & 0xf, reply[3] & 0xf), (9, 4), "NOTIMP");
}

/// Asserts `message` gets a FORMERR that echoes the ID and RD and holds no records.
fn assert_formerr(zone: &Zone, message: &[u8], case: &str) {
    let reply = ask(zone, message);
    let parsed = parse(&reply);
    assert_eq!(
        parsed.metadata.response_code,
        ResponseCode::FormErr,
        "{case}"
    );
    assert_eq!(parsed.metadata.id, ID, "{case}");
    assert!(parsed.metadata.recursion_desired, "{case}");
    assert!(parsed.answers.is_empty(), "{case}");
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
    let mut self_pointer = header([1, 0, 0, 0]);
    self_pointer.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1]);
    let mut forward_pointer = header([1, 0, 0, 0]);
    forward_pointer.extend_from_slice(&[0xc0, 0x0e, 1, b'a', 0, 0, 16, 0, 1]);
    let mut too_long = header([1, 0, 0, 0]);
    for _ in 0..5 {
        put_label(&mut too_long, &[b'a'; 63]);
    }
    too_long.extend_from_slice(&[0, 0, 16, 0, 1]);
    let mut missing_additional = good.clone();
    missing_additional[11] = 1;
    let mut two_opts = build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, false)));
    two_opts[11] = 2;
    put_opt(&mut two_opts, (1232, 0, false));
    let cases = [
        ("no question", no_question),
        ("two questions", two_questions),
        ("truncated question", truncated_question),
        ("bad label type", bad_label_type),
        ("self pointer", self_pointer),
        ("forward pointer", forward_pointer),
        ("name too long", too_long),
        ("missing additional", missing_additional),
        ("two OPT records", two_opts),
    ];
    for (case, message) in cases {
        assert_formerr(&zone, &message, case);
    }
}

#[test]
fn short_long_messages_and_responses_are_ignored() {
    let zone = zone();
    assert!(respond(&zone, &[]).is_none());
    for len in 1..HEADER_LEN {
        assert!(respond(&zone, &query(R1, TYPE_TXT)[..len]).is_none());
    }
    let answer = ask(&zone, &query(R1, TYPE_TXT));
    assert!(respond(&zone, &answer).is_none());
    let mut oversize = query(R1, TYPE_TXT);
    oversize.resize(65_536, 0);
    assert!(respond(&zone, &oversize).is_none());
    oversize.truncate(65_535);
    assert!(
        respond(&zone, &oversize).is_some(),
        "trailing bytes are ignored"
    );
}

#[test]
fn compression_pointers_in_the_question_are_followed() {
    // The name ends with a pointer to offset 11, the low byte of ARCOUNT = 0: the root.
    let mut message = query(R1, TYPE_TXT);
    let name_end = message.len() - 5;
    message.splice(name_end..name_end + 1, [0xc0, 0x0b]);
    let parsed = parse(&ask(&zone(), &message));
    assert_eq!(parsed.metadata.response_code, ResponseCode::NoError);
    assert_eq!(name_labels(parsed.queries[0].name()), labels(R1));
    assert_eq!(txt_value(&parsed.answers[0]), "token-one");
}

#[test]
fn pointer_loops_get_formerr() {
    let zone = zone();
    // Two pointers at each other in the question.
    let mut pair = header([1, 0, 0, 0]);
    pair.extend_from_slice(&[0xc0, 0x0e, 0xc0, 0x0c, 0, 16, 0, 1]);
    // A record in the additional section whose owner points at itself.
    let mut record_loop = query(R1, TYPE_TXT);
    record_loop[11] = 1;
    let at = u16::try_from(record_loop.len()).unwrap();
    put_u16(&mut record_loop, 0xc000 | at);
    record_loop.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
    // A pointer into the header, whose bytes are not labels.
    let mut into_header = header([1, 0, 0, 0]);
    into_header.extend_from_slice(&[0xc0, 0x00, 0, 16, 0, 1]);
    for (case, message) in [
        ("pointer pair", pair),
        ("record pointing at itself", record_loop),
        ("pointer into the header", into_header),
    ] {
        assert_formerr(&zone, &message, case);
    }
}

#[test]
fn huge_names_and_record_counts_get_formerr() {
    let zone = zone();
    // 128 one-byte labels: 257 bytes, over the 255 a name may have.
    let mut many_labels = header([1, 0, 0, 0]);
    for _ in 0..128 {
        put_label(&mut many_labels, b"a");
    }
    many_labels.extend_from_slice(&[0, 0, 16, 0, 1]);
    // Records whose owners each add a long label to the one before, by pointer, until a name
    // grows past 255 bytes.
    let mut chained = query(R1, TYPE_TXT);
    let mut previous = 12u16;
    for _ in 0..4 {
        let at = u16::try_from(chained.len()).unwrap();
        put_label(&mut chained, &[b'a'; 63]);
        put_u16(&mut chained, 0xc000 | previous);
        chained.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
        previous = at;
    }
    chained[11] = 4;
    let mut three_fit = chained.clone();
    three_fit.truncate(chained.len() - 64 - 2 - 14);
    three_fit[11] = 3;
    assert_eq!(
        parse(&ask(&zone, &three_fit)).answers.len(),
        1,
        "3 records fit"
    );
    // More records than a query carries, each well formed.
    let mut nine = build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, false)));
    nine[11] = 9;
    for _ in 0..8 {
        nine.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
    }
    let mut eight = nine[..nine.len() - 16].to_vec();
    eight[11] = 8;
    assert_eq!(
        parse(&ask(&zone, &eight)).answers.len(),
        1,
        "8 records are fine"
    );
    // Counts far beyond what the bytes hold.
    let mut questions = query(R1, TYPE_TXT);
    questions[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
    let mut records = query(R1, TYPE_TXT);
    records[6..12].copy_from_slice(&[0xff; 6]);
    for (case, message) in [
        ("128 labels", many_labels),
        ("pointer chain", chained),
        ("nine records", nine),
        ("65,535 questions", questions),
        ("65,535 records per section", records),
    ] {
        assert_formerr(&zone, &message, case);
    }
}

fn read_soa(record: &Record) -> (Labels, Labels, [u32; 5]) {
    let RData::SOA(soa) = &record.data else {
        panic!("not SOA: {record:?}");
    };
    let numbers = [
        soa.serial,
        soa.refresh.unsigned_abs(),
        soa.retry.unsigned_abs(),
        soa.expire.unsigned_abs(),
        soa.minimum,
    ];
    (
        name_labels(&soa.mname.to_lowercase()),
        name_labels(&soa.rname.to_lowercase()),
        numbers,
    )
}

#[test]
fn apex_serves_soa_and_ns() {
    let zone = zone();
    let parsed = parse(&ask(&zone, &query(BASE, TYPE_SOA)));
    assert_eq!(parsed.metadata.response_code, ResponseCode::NoError);
    assert!(parsed.metadata.authoritative);
    assert_eq!(parsed.answers.len(), 1);
    let (mname, rname, numbers) = read_soa(&parsed.answers[0]);
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

    let parsed = parse(&ask(&zone, &query(BASE, TYPE_NS)));
    assert_eq!(parsed.answers.len(), 1);
    let RData::NS(target) = &parsed.answers[0].data else {
        panic!("not NS: {:?}", parsed.answers[0]);
    };
    assert_eq!(name_labels(&target.0), labels("ns1.dep1.commsgw.example"));

    assert_soa_authority(&parse(&ask(&zone, &query(BASE, TYPE_A))));
    let parsed = parse(&ask(&zone, &query(BASE, TYPE_ANY)));
    let types: Vec<RecordType> = parsed.answers.iter().map(Record::record_type).collect();
    assert_eq!(types, [RecordType::SOA, RecordType::NS]);
}

#[test]
fn edns_is_echoed() {
    let zone = zone();
    let plain = ask(&zone, &query(R1, TYPE_TXT));
    let parsed = parse(&plain);
    assert!(parsed.edns.is_none() && parsed.additionals.is_empty());
    for dnssec_ok in [false, true] {
        let reply = ask(
            &zone,
            &build_query(R1, TYPE_TXT, CLASS_IN, Some((4096, 0, dnssec_ok))),
        );
        let parsed = parse(&reply);
        assert_eq!(parsed.answers.len(), 1);
        assert!(parsed.additionals.is_empty());
        let edns = parsed.edns.expect("an OPT record");
        assert_eq!((edns.max_payload(), edns.version()), (1232, 0));
        assert_eq!(edns.flags().dnssec_ok, dnssec_ok);
        let flags = if dnssec_ok { 0x80 } else { 0 };
        assert_eq!(
            opt_tail(&reply),
            [0, 0, 41, 0x04, 0xd0, 0, 0, flags, 0, 0, 0],
            "root owner, 1232, no options"
        );
    }
}

#[test]
fn edns_version_above_zero_gets_badvers() {
    let reply = ask(
        &zone(),
        &build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 1, false))),
    );
    assert_eq!(reply[3] & 0x0f, 0, "the header holds the low bits");
    assert_eq!(
        opt_tail(&reply)[5..7],
        [1, 0],
        "extended rcode 1, version 0"
    );
    let parsed = parse(&reply);
    assert_eq!(rcode(&parsed), 16, "BADVERS (hickory reads 16 as BADSIG)");
    assert!(parsed.answers.is_empty());
    assert_eq!(parsed.queries.len(), 1);
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
    assert!(parsed.metadata.truncation);
    assert!(parsed.answers.is_empty() && parsed.authorities.is_empty());
    assert_eq!(name_labels(parsed.queries[0].name()), labels(R1));

    let small_edns = ask(
        &zone,
        &build_query(R1, TYPE_TXT, CLASS_IN, Some((256, 0, false))),
    );
    let parsed = parse(&small_edns);
    assert!(parsed.metadata.truncation && small_edns.len() <= 512);
    assert!(parsed.edns.is_some(), "OPT kept when truncated");

    let big_edns = ask(
        &zone,
        &build_query(R1, TYPE_TXT, CLASS_IN, Some((1232, 0, false))),
    );
    let parsed = parse(&big_edns);
    assert!(!parsed.metadata.truncation && big_edns.len() > 512);
    assert_eq!(parsed.answers.len(), 11);

    let tcp = answer_message(&zone, &query(R1, TYPE_TXT), Transport::Tcp).unwrap();
    let parsed = parse(&tcp);
    assert!(!parsed.metadata.truncation);
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
    let strings = &txt_data(&parsed.answers[0]).txt_data;
    let lengths: Vec<usize> = strings.iter().map(|s| s.len()).collect();
    assert_eq!(lengths, [255, 255, 90]);
    assert_eq!(txt_value(&parsed.answers[0]), long);
    let reply = ask(&zone, &query(R2, TYPE_TXT));
    let empty = txt_data(&parse(&reply).answers[0]).txt_data.clone();
    assert_eq!(empty.len(), 1, "one empty string");
    assert!(empty[0].is_empty());
    assert_eq!(
        reply[reply.len() - 3..],
        [0, 1, 0],
        "RDLENGTH 1, one empty string"
    );
}

#[test]
fn add_txt_keeps_values_under_the_base_once() {
    let mut zone = zone();
    zone.add_txt(R1, "token-one");
    zone.add_txt(R1, "token-three");
    zone.add_txt("contoso.example.com", "elsewhere");
    zone.add_txt("bad..dep1.commsgw.example", "bad");
    zone.add_txt(R2, &"x".repeat(65_535));
    assert_eq!(zone.txt(R1).unwrap(), ["token-one", "token-three"]);
    assert_eq!(
        zone.txt(R2).unwrap(),
        ["token_two="],
        "too long for a record"
    );
    assert!(zone.txt("contoso.example.com").is_none());
    assert!(zone.txt("1r1.dep1.commsgw.example").is_none());
    let reply = ask(&zone, &query("CONTOSO.example.com", TYPE_TXT));
    assert_eq!(parse(&reply).metadata.response_code, ResponseCode::Refused);
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
            assert_eq!(reply[..2], message[..2], "the ID is echoed");
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
    let mut truncated = answer.clone();
    truncated[2] |= 0x02;
    let error = parse_txt_answer(&truncated, &name).unwrap_err();
    assert!(error.to_string().contains("truncated"), "{error}");
    answer[3] = (answer[3] & 0xf0) | 2;
    let error = parse_txt_answer(&answer, &name).unwrap_err();
    assert!(error.to_string().contains("rcode 2"), "{error}");
    let query = build_query(R1, TYPE_TXT, CLASS_IN, None);
    let error = parse_txt_answer(&query, &name).unwrap_err();
    assert!(error.to_string().contains("not a response"), "{error}");
}

#[tokio::test]
async fn tcp_serves_several_queries_per_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(serve_tcp(listener, shared(zone())));
    let mut stream = TcpStream::connect(address).await.unwrap();
    // Garbage on the connection gets a FORMERR and the connection carries on.
    write_frame(&mut stream, &[0; HEADER_LEN]).await.unwrap();
    let reply = read_frame(&mut stream).await.unwrap().expect("a reply");
    assert_eq!(parse(&reply).metadata.response_code, ResponseCode::FormErr);
    for (name, token) in [(R1, "token-one"), (R2, "token_two=")] {
        write_frame(&mut stream, &query(name, TYPE_TXT))
            .await
            .unwrap();
        let reply = read_frame(&mut stream).await.unwrap().expect("a reply");
        assert_eq!(txt_value(&parse(&reply).answers[0]), token);
    }
    task.abort();
    let closed = read_frame(&mut stream).await;
    assert!(
        matches!(closed, Ok(None) | Err(_)),
        "connections end with the server"
    );
}
