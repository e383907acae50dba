//! Reading TXT records back from a DNS server, as Microsoft 365 would, so the gateway can check
//! what it really serves.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::answer::{lowercase_labels, EDNS_UDP_SIZE, MAX_MESSAGE_LEN};
use super::zone::{parse_text_name, Labels};

pub(super) const QUERY_TIMEOUT: Duration = Duration::from_secs(1);
const QUERY_ATTEMPTS: usize = 2;

/// Asks `server` over UDP for the TXT records at `name` (timeout 1 s, one retry); Ok(vec![])
/// for NXDOMAIN/NODATA; Err on timeout, a malformed answer, or an rcode other than
/// NOERROR/NXDOMAIN. Used by the gateway to check what it really serves.
///
/// A truncated answer is an error too (it would need TCP).
pub async fn query_txt(server: SocketAddr, name: &str) -> io::Result<Vec<String>> {
    let labels = parse_text_name(name)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a valid domain name"))?;
    let query = txt_query(rand::random(), &labels)?;
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

/// A non-recursive TXT query for `name` with an OPT record.
pub(super) fn txt_query(id: u16, name: &Labels) -> io::Result<Vec<u8>> {
    let name = Name::from_labels(name.iter().map(Vec::as_slice)).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a valid domain name: {error}"),
        )
    })?;
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(name, RecordType::TXT));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_UDP_SIZE);
    query.set_edns(edns);
    query
        .to_vec()
        .map_err(|error| io::Error::other(format!("DNS query could not be written: {error}")))
}

/// Waits for the datagram answering `query` (same ID) and decodes it.
async fn receive_txt_answer(
    socket: &UdpSocket,
    query: &[u8],
    name: &Labels,
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

/// The TXT values in `message`, the answer to a TXT query for `name` (lowercase labels).
pub(super) fn parse_txt_answer(message: &[u8], name: &Labels) -> io::Result<Vec<String>> {
    let answer = Message::from_vec(message).map_err(|error| malformed(&error.to_string()))?;
    let [question] = answer.queries.as_slice() else {
        return Err(malformed("not a response to one query"));
    };
    if answer.metadata.message_type != MessageType::Response
        || answer.metadata.op_code != OpCode::Query
    {
        return Err(malformed("not a response to one query"));
    }
    if answer.metadata.truncation {
        return Err(malformed("truncated"));
    }
    if lowercase_labels(question.name()) != *name
        || question.query_type() != RecordType::TXT
        || question.query_class() != DNSClass::IN
    {
        return Err(malformed("question does not match the query"));
    }
    match answer.metadata.response_code {
        ResponseCode::NoError => Ok(answer
            .answers
            .iter()
            .filter(|record| record.dns_class == DNSClass::IN)
            .filter(|record| lowercase_labels(&record.name) == *name)
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => {
                    Some(String::from_utf8_lossy(&txt.txt_data.concat()).into_owned())
                }
                _ => None,
            })
            .collect()),
        ResponseCode::NXDomain => Ok(Vec::new()),
        rcode => Err(io::Error::other(format!(
            "DNS server answered rcode {}",
            u16::from(rcode)
        ))),
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed DNS answer: {what}"),
    )
}
