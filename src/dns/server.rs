//! The DNS listeners: UDP datagrams and TCP connections (RFC 7766 framing), each message
//! answered from the zone as it is at that moment.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

use super::answer::{answer_message, Transport, MAX_MESSAGE_LEN};
use super::{respond, SharedZone, Zone};

/// How long a TCP connection may wait for the client's next message, and for the whole of it.
pub(super) const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TCP_CONNECTIONS: usize = 256;
const SOCKET_ERROR_BACKOFF: Duration = Duration::from_millis(50);

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

fn current_zone(zone: &SharedZone) -> Arc<Zone> {
    let guard = zone.read().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(&guard)
}

async fn serve_connection(mut stream: TcpStream, peer: SocketAddr, zone: SharedZone) {
    // Each reply is written whole; without this, a reply that follows another waits for the
    // client's delayed ACK (about 40 ms on Linux).
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, %peer, "DNS TCP_NODELAY could not be set");
    }
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
pub(super) async fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
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

/// Writes `message` with its length prefix; replies never exceed 65,535 bytes.
pub(super) async fn write_frame(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "DNS message longer than 65,535 bytes",
        )
    })?;
    let mut frame = Vec::with_capacity(message.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    stream.write_all(&frame).await
}
