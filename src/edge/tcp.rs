//! The edge's TCP and TLS connections, on tokio tasks rather than a thread each: the ones peers open
//! (limited in total and per source, closed when a message is slow to arrive whole or the
//! connection sits idle) and the ones the edge opens to its next hops (in the background, each
//! with a bounded send queue, so that a dead or slow peer costs only the messages that go to
//! it and never stalls a thread that reads UDP). A connection holds no read buffer while it is
//! idle. Depends on [`super::addressing`], [`super::hops`], [`super::metrics`] and
//! [`super::tls`].

use super::addressing::{Destination, Origin, Side, Transport};
use super::hops::Health;
use super::metrics::{EdgeMetrics, TcpEvent};
use super::tls::Tls;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

/// Largest message the edge reads.
pub const MAX_MESSAGE: usize = 65_535;
/// Messages waiting to be written to one connection; past it, a message is dropped (SIP over
/// TCP does not retransmit, so the transaction fails like a lost datagram would).
const SEND_QUEUE: usize = 256;
/// How long one write may take before the peer is taken to have stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a next hop that refused a connection gets no calls.
pub const HOP_DOWN_FOR: Duration = Duration::from_secs(5);

/// What bounds the connections.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    /// Connections peers may hold open at once, both sides together.
    pub total: usize,
    /// Of those, from one address.
    pub per_source: usize,
    /// A connection that carries nothing (keep-alive CRLFs count) for this long is closed.
    pub idle: Duration,
    /// The first message must arrive, and each message must arrive whole, within this.
    pub message: Duration,
    /// How long the edge waits for a next hop to accept a connection.
    pub connect: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            total: 10_000,
            per_source: 1_000,
            idle: Duration::from_secs(300),
            message: Duration::from_secs(10),
            connect: Duration::from_secs(2),
        }
    }
}

/// Where the messages read from connections go (the proxy, then out again).
pub trait Deliver: Send + Sync + 'static {
    fn trusts(&self, side: Side, ip: IpAddr) -> bool;
    fn deliver(&self, raw: &[u8], origin: Origin);
}

#[derive(Clone)]
struct Connection {
    side: Side,
    transport: Transport,
    peer: SocketAddr,
    queue: mpsc::Sender<Vec<u8>>,
    /// Told to close (the writer failed).
    closed: Arc<Notify>,
    /// Opened by the peer (counted against the limits) rather than by the edge.
    accepted: bool,
}

#[derive(Default)]
struct Registry {
    by_id: HashMap<u64, Connection>,
    by_peer: HashMap<(Side, Transport, SocketAddr), u64>,
    per_source: HashMap<IpAddr, usize>,
    accepted: usize,
}

pub struct Tcp {
    runtime: tokio::runtime::Handle,
    limits: TcpLimits,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    metrics: Arc<EdgeMetrics>,
    health: Arc<Health>,
    tls: Option<Arc<Tls>>,
}

impl Tcp {
    /// Must be called inside the tokio runtime that will run the connections.
    pub fn new(
        limits: TcpLimits,
        metrics: Arc<EdgeMetrics>,
        health: Arc<Health>,
        tls: Option<Arc<Tls>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            runtime: tokio::runtime::Handle::current(),
            limits,
            registry: Mutex::default(),
            next_id: AtomicU64::new(1),
            metrics,
            health,
            tls,
        })
    }

    /// Accepts connections on `listener` for `side` until the process ends: plain TCP, or
    /// TLS (the handshake must end within the message time).
    pub fn listen(
        self: &Arc<Self>,
        listener: std::net::TcpListener,
        side: Side,
        transport: Transport,
        deliver: Arc<dyn Deliver>,
    ) -> std::io::Result<()> {
        listener.set_nonblocking(true)?;
        let me = self.clone();
        let _guard = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        self.runtime.spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors, most likely: wait for some to close.
                        tracing::warn!(%error, "TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if !deliver.trusts(side, peer.ip()) {
                    me.metrics.untrusted(side);
                    continue;
                }
                let Some((id, connection, queue)) = me.admit(side, transport, peer) else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                if transport != Transport::Tls {
                    me.run(stream, id, connection, queue, deliver.clone());
                    continue;
                }
                let Some(tls) = me.tls.clone() else {
                    me.forget(id);
                    continue;
                };
                let me = me.clone();
                let deliver = deliver.clone();
                tokio::spawn(async move {
                    let handshake = tls.acceptor(side).accept(stream);
                    match tokio::time::timeout(me.limits.message, handshake).await {
                        Ok(Ok(stream)) => me.run(stream, id, connection, queue, deliver),
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "a TLS handshake failed");
                            me.metrics.tcp(TcpEvent::ClosedHandshake);
                            me.forget(id);
                        }
                        Err(_) => {
                            me.metrics.tcp(TcpEvent::ClosedHandshake);
                            me.forget(id);
                        }
                    }
                });
            }
        });
        Ok(())
    }

    /// Registers a connection a peer opened, within the limits.
    fn admit(
        &self,
        side: Side,
        transport: Transport,
        peer: SocketAddr,
    ) -> Option<(u64, Connection, mpsc::Receiver<Vec<u8>>)> {
        let mut registry = self.registry.lock().expect("registry lock");
        if registry.accepted >= self.limits.total {
            drop(registry);
            self.metrics.tcp(TcpEvent::RefusedTotal);
            tracing::debug!(%peer, "refused a TCP connection: the edge holds its most");
            return None;
        }
        let from_source = registry
            .per_source
            .get(&source_key(peer.ip()))
            .copied()
            .unwrap_or(0);
        if from_source >= self.limits.per_source {
            drop(registry);
            self.metrics.tcp(TcpEvent::RefusedPerSource);
            tracing::debug!(%peer, "refused a TCP connection: its source holds its most");
            return None;
        }
        registry.accepted += 1;
        *registry
            .per_source
            .entry(source_key(peer.ip()))
            .or_default() += 1;
        Some(self.register(&mut registry, side, transport, peer, true))
    }

    fn register(
        &self,
        registry: &mut Registry,
        side: Side,
        transport: Transport,
        peer: SocketAddr,
        accepted: bool,
    ) -> (u64, Connection, mpsc::Receiver<Vec<u8>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, receiver) = mpsc::channel(SEND_QUEUE);
        let connection = Connection {
            side,
            transport,
            peer,
            queue,
            closed: Arc::new(Notify::new()),
            accepted,
        };
        registry.by_id.insert(id, connection.clone());
        registry.by_peer.insert((side, transport, peer), id);
        self.metrics.tcp_opened(side);
        (id, connection, receiver)
    }

    fn forget(&self, id: u64) {
        let mut registry = self.registry.lock().expect("registry lock");
        let Some(connection) = registry.by_id.remove(&id) else {
            return;
        };
        let key = (connection.side, connection.transport, connection.peer);
        if registry.by_peer.get(&key) == Some(&id) {
            registry.by_peer.remove(&key);
        }
        if connection.accepted {
            registry.accepted -= 1;
            let ip = source_key(connection.peer.ip());
            if let Some(n) = registry.per_source.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    registry.per_source.remove(&ip);
                }
            }
        }
        drop(registry);
        self.metrics.tcp_closed(connection.side);
    }

    /// Sends `bytes` down the connection `to` names (checked to still be the same peer), or
    /// one already open to its address, or, to a next hop, a new one opened in the background.
    /// Never waits.
    pub fn send(self: &Arc<Self>, to: &Destination, bytes: Vec<u8>, deliver: &Arc<dyn Deliver>) {
        let known = {
            let registry = self.registry.lock().expect("registry lock");
            let same = |c: &&Connection| {
                c.side == to.side && c.transport == to.transport && c.peer == to.addr
            };
            to.connection
                .and_then(|id| registry.by_id.get(&id).filter(same))
                .or_else(|| {
                    let id = registry.by_peer.get(&(to.side, to.transport, to.addr))?;
                    registry.by_id.get(id)
                })
                .map(|c| c.queue.clone())
        };
        let queue = match known {
            Some(queue) => queue,
            // The edge opens connections only to its next hops: a peer's connection that has
            // closed is not dialled back (its address is a source port, and anyone holding a
            // signed route could otherwise make the edge open connections without limit).
            None if self.health.is_next_hop(to.addr) => {
                self.open(to.side, to.transport, to.addr, deliver.clone())
            }
            None => {
                self.metrics.send_failed();
                tracing::debug!(to = %to.addr, "dropped a message: its connection has closed and it is no next hop");
                return;
            }
        };
        if queue.try_send(bytes).is_err() {
            self.metrics.send_failed();
            tracing::debug!(to = %to.addr, "dropped a message: the connection's queue is full or closed");
        }
    }

    /// Registers a connection to `addr` at once and connects in the background; messages
    /// queue until it is up, and are dropped (and the hop marked down) if it never is.
    fn open(
        self: &Arc<Self>,
        side: Side,
        transport: Transport,
        addr: SocketAddr,
        deliver: Arc<dyn Deliver>,
    ) -> mpsc::Sender<Vec<u8>> {
        let (id, connection, receiver) = {
            let mut registry = self.registry.lock().expect("registry lock");
            self.register(&mut registry, side, transport, addr, false)
        };
        let queue = connection.queue.clone();
        let me = self.clone();
        self.runtime.spawn(async move {
            let connected =
                tokio::time::timeout(me.limits.connect, tokio::net::TcpStream::connect(addr)).await;
            let stream = match connected {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => return me.failed(id, addr, &error.to_string()),
                Err(_) => return me.failed(id, addr, "no answer"),
            };
            let _ = stream.set_nodelay(true);
            if transport != Transport::Tls {
                me.health.mark_up(addr);
                return me.run(stream, id, connection, receiver, deliver);
            }
            let name = me.health.server_name(addr);
            let (Some(tls), Some(server_name)) = (me.tls.clone(), Tls::server_name(&name)) else {
                return me.failed(id, addr, "TLS is not set up (--tls-cert, --tls-key)");
            };
            let handshake = tls.connector().connect(server_name, stream);
            match tokio::time::timeout(me.limits.connect, handshake).await {
                Ok(Ok(stream)) => {
                    me.health.mark_up(addr);
                    me.run(stream, id, connection, receiver, deliver);
                }
                Ok(Err(error)) => me.failed(id, addr, &format!("TLS with {name}: {error}")),
                Err(_) => me.failed(id, addr, "the TLS handshake took too long"),
            }
        });
        queue
    }

    fn failed(&self, id: u64, addr: SocketAddr, why: &str) {
        tracing::warn!(%addr, why, "cannot connect to a next hop");
        self.health.mark_down(addr, HOP_DOWN_FOR);
        self.forget(id);
        self.metrics.send_failed();
    }

    /// Runs a connection: one task writes what is queued, one reads and delivers.
    fn run<S>(
        self: &Arc<Self>,
        stream: S,
        id: u64,
        connection: Connection,
        mut receiver: mpsc::Receiver<Vec<u8>>,
        deliver: Arc<dyn Deliver>,
    ) where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (reader, mut writer) = tokio::io::split(stream);
        let closed = connection.closed.clone();
        let metrics = self.metrics.clone();
        self.runtime.spawn(async move {
            while let Some(bytes) = receiver.recv().await {
                match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        metrics.tcp(TcpEvent::ClosedSlowWriter);
                        break;
                    }
                }
            }
            closed.notify_one();
        });
        let me = self.clone();
        self.runtime.spawn(async move {
            let origin = Origin {
                side: connection.side,
                transport: connection.transport,
                addr: connection.peer,
                connection: Some(id),
            };
            if let Some(event) = me.read(reader, origin, &connection, &*deliver).await {
                me.metrics.tcp(event);
                tracing::debug!(peer = %connection.peer, ?event, "closed a TCP connection");
            }
            me.forget(id);
        });
    }

    /// Reads messages until the peer closes or breaks a limit (which it returns).
    async fn read(
        &self,
        mut reader: impl AsyncRead + Unpin,
        origin: Origin,
        connection: &Connection,
        deliver: &dyn Deliver,
    ) -> Option<TcpEvent> {
        let mut buf: Vec<u8> = Vec::new();
        let mut scanned = 0;
        // When the message now arriving began (from the start, for one the peer opened: its
        // first message is due).
        let mut started = connection.accepted.then(Instant::now);
        loop {
            loop {
                drop_blank_lines(&mut buf, &mut scanned);
                match framed_length(&buf, &mut scanned) {
                    Some(len) if len > MAX_MESSAGE => return Some(TcpEvent::ClosedOversized),
                    Some(len) => {
                        deliver.deliver(&buf[..len], origin);
                        buf.drain(..len);
                        scanned = 0;
                        started = None;
                    }
                    None => break,
                }
            }
            if buf.len() > MAX_MESSAGE {
                return Some(TcpEvent::ClosedOversized);
            }
            if buf.is_empty() {
                if buf.capacity() > 16 * 1024 {
                    buf = Vec::new();
                }
            } else if started.is_none() {
                started = Some(Instant::now());
            }
            let wait = match started {
                Some(at) => self.limits.message.saturating_sub(at.elapsed()),
                None => self.limits.idle,
            };
            buf.reserve(4096);
            let read = tokio::select! {
                read = tokio::time::timeout(wait, reader.read_buf(&mut buf)) => read,
                _ = connection.closed.notified() => return None,
            };
            match read {
                Err(_) if started.is_some() => return Some(TcpEvent::ClosedFirstMessage),
                Err(_) => return Some(TcpEvent::ClosedIdle),
                Ok(Ok(0) | Err(_)) => return None,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Connections open now (both sides, both directions).
    pub fn open_connections(&self) -> usize {
        self.registry.lock().expect("registry lock").by_id.len()
    }
}

/// What counts as one source for the per-source limit: an IPv4 address, an IPv6 /64 (a host
/// holds a whole one).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    }
}

fn drop_blank_lines(buf: &mut Vec<u8>, scanned: &mut usize) {
    let blank = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    if blank > 0 {
        buf.drain(..blank);
        *scanned = 0;
    }
}

/// The length of the first whole SIP message in a TCP stream's buffer, when it is all there.
/// `scanned` remembers how far the end of the headers was looked for, so bytes that trickle
/// in are searched once, not again on every read.
pub fn framed_length(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let from = scanned.saturating_sub(3);
    let Some(found) = memchr::memmem::find(&buf[from..], b"\r\n\r\n") else {
        *scanned = buf.len();
        return None;
    };
    let head_end = from + found + 4;
    let head = &buf[..head_end];
    let mut body = 0usize;
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            body = std::str::from_utf8(&line[colon + 1..])
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(usize::MAX);
        }
    }
    *scanned = head_end.saturating_sub(4);
    let total = head_end.saturating_add(body);
    if total > MAX_MESSAGE {
        // Too big to wait for: the caller closes the connection.
        return Some(total);
    }
    (buf.len() >= total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::framed_length;

    #[test]
    fn frames_by_content_length() {
        let two = b"BYE sip:a SIP/2.0\r\nl: 3\r\n\r\nabcOPTIONS sip:b SIP/2.0\r\n\r\n";
        assert_eq!(framed_length(two, &mut 0), Some(30));
        assert_eq!(framed_length(&two[..28], &mut 0), None);
        assert_eq!(framed_length(&two[30..], &mut 0), Some(two.len() - 30));
        // Searched in pieces as the bytes arrive.
        let mut scanned = 0;
        assert_eq!(framed_length(&two[..20], &mut scanned), None);
        assert_eq!(scanned, 20);
        assert_eq!(framed_length(&two[..30], &mut scanned), Some(30));
        // A length that cannot be waited for is said at once, and so is one that is not a number.
        let huge = b"INVITE sip:a SIP/2.0\r\nContent-Length: 99999999\r\n\r\n";
        assert!(framed_length(huge, &mut 0).unwrap() > super::MAX_MESSAGE);
        let bad = b"INVITE sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n";
        assert!(framed_length(bad, &mut 0).unwrap() > super::MAX_MESSAGE);
    }
}
