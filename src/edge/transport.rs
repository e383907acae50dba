//! The edge's sockets: UDP and TCP on the operator-facing and the service-facing address.
//!
//! A UDP socket per side, both read by a few plain threads that never wait on anything but
//! their sockets (a message for TCP is handed to [`super::tcp`]'s queues); TCP connections
//! run on tokio tasks ([`super::tcp`]).

use super::proxy::{Origin, Outgoing, Proxy, Side, Transport};
use super::tcp::{Deliver, Tcp, TcpLimits, MAX_MESSAGE};
use super::tls::Tls;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// How long a helping UDP thread (all but the first) sleeps after it ran out of datagrams,
/// before it waits on the sockets again. Without it, every datagram that arrives while the first
/// thread is at work wakes a helper, and those wake-ups cost about a third more CPU per call
/// (measured at 8,000 calls/s against one thread alone); with it, a helper takes a share of a
/// backlog the first thread cannot keep up with, or of a burst that came while that thread
/// waited for a CPU, at most a few thousand times a second.
const HELPER_REST: Duration = Duration::from_micros(250);

/// Passes of a UDP thread's loop after which a socket that ran dry is read again even if
/// epoll has not named it (it is not asked while the other socket still has datagrams).
const RECHECK_EVERY: u32 = 8;

/// The sockets of both sides.
pub struct Sockets {
    pub proxy: Proxy,
    udp: [UdpSocket; 2],
    pub tcp: Arc<Tcp>,
    /// Itself, for the TCP tasks that deliver what they read.
    me: std::sync::Weak<Sockets>,
}

impl Deliver for Sockets {
    fn trusts(&self, side: Side, ip: IpAddr) -> bool {
        self.proxy.trusts(side, ip)
    }

    fn deliver(&self, raw: &[u8], origin: Origin) {
        if let Some(out) = self.proxy.handle(raw, origin) {
            self.send(out);
        }
    }
}

fn slot(side: Side) -> usize {
    match side {
        Side::Operator => 0,
        Side::Service => 1,
    }
}

fn udp_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Bursts of INVITEs must wait in the kernel, not be dropped (the kernel caps the size at
    // net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A listener whose backlog holds a burst of connections (std's holds 128; past it the
/// kernel drops SYNs and peers wait a second or more to retry).
fn tcp_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

impl Sockets {
    /// Binds UDP and TCP on both addresses and starts the threads and tasks; returns at
    /// once. `udp_batch` is the most datagrams a UDP thread takes from a socket at once. Must
    /// be called inside a tokio runtime (TCP runs on it).
    pub fn start(
        proxy: Proxy,
        udp_threads: usize,
        udp_batch: usize,
        limits: TcpLimits,
        tls: Option<Arc<Tls>>,
    ) -> std::io::Result<Arc<Self>> {
        let operator = proxy.config.operator_listen;
        let service = proxy.config.service_listen;
        let mut listeners = vec![
            (tcp_listener(operator)?, Side::Operator, Transport::Tcp),
            (tcp_listener(service)?, Side::Service, Transport::Tcp),
        ];
        for (addr, side) in [
            (proxy.config.operator_tls_listen, Side::Operator),
            (proxy.config.service_tls_listen, Side::Service),
        ] {
            if let Some(addr) = addr {
                if tls.is_none() {
                    return Err(std::io::Error::other(format!(
                        "a TLS listener for the {} side needs --tls-cert and --tls-key",
                        side.name()
                    )));
                }
                listeners.push((tcp_listener(addr)?, side, Transport::Tls));
            }
        }
        let udp = [udp_socket(operator)?, udp_socket(service)?];
        let tcp = Tcp::new(limits, proxy.metrics.clone(), proxy.health.clone(), tls);
        let sockets = Arc::new_cyclic(|me| Self {
            udp,
            tcp,
            proxy,
            me: me.clone(),
        });
        for n in 0..udp_threads.max(1) {
            let me = sockets.clone();
            let waiter = Waiter::new(&me.udp)?;
            // The first thread reads whenever there is something to read (its epoll set is
            // registered first, so the kernel wakes it first when it waits); the others are
            // woken only while it is at work, help with the backlog and then rest.
            let rest = (n > 0).then_some(HELPER_REST);
            std::thread::Builder::new()
                .name(format!("edge-udp-{n}"))
                .spawn(move || me.udp_loop(waiter, udp_batch.max(1), rest))?;
        }
        for (listener, side, transport) in listeners {
            let deliver: Arc<dyn Deliver> = sockets.clone();
            sockets.tcp.listen(listener, side, transport, deliver)?;
        }
        Ok(sockets)
    }

    /// One of the threads that read both sides' UDP sockets: up to `batch` datagrams from
    /// each socket that has some in turn (one system call), their forwards sent together (one
    /// more), until neither has any; then asleep until one does (a helper first rests for
    /// `rest`). A socket that ran dry is read again when epoll names it or after
    /// [`RECHECK_EVERY`] passes, so an idle side costs few system calls and a busy one cannot
    /// starve the other.
    fn udp_loop(self: Arc<Self>, waiter: Waiter, batch: usize, rest: Option<Duration>) {
        let mut inbox = Inbox::new(batch);
        let mut outbox = [Outbox::new(batch), Outbox::new(batch)];
        let mut ready = [true, true];
        let mut passes = 0u32;
        loop {
            // While one side keeps the threads busy, the other is looked at every few passes
            // all the same: it must not wait for the busy side to run dry.
            passes = passes.wrapping_add(1);
            if passes.is_multiple_of(RECHECK_EVERY) {
                ready = [true, true];
            }
            for side in [Side::Operator, Side::Service] {
                if !ready[slot(side)] {
                    continue;
                }
                let got = match inbox.receive_now(&self.udp[slot(side)]) {
                    Ok(got) => got,
                    Err(error) => {
                        tracing::warn!(%error, "UDP receive failed");
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                if got < inbox.capacity() {
                    // Whatever was waiting has been taken; epoll says when more comes.
                    ready[slot(side)] = false;
                }
                for at in 0..got {
                    let Some((bytes, from)) = inbox.datagram(at) else {
                        continue;
                    };
                    let origin = Origin {
                        side,
                        transport: Transport::Udp,
                        addr: from,
                        connection: None,
                    };
                    match self.proxy.handle(bytes, origin) {
                        Some(out) if out.to.transport == Transport::Udp => {
                            outbox[slot(out.to.side)].queued.push(out);
                        }
                        Some(out) => self.send(out),
                        None => {}
                    }
                }
                for (socket, queued) in self.udp.iter().zip(outbox.iter_mut()) {
                    queued.send_all(socket);
                }
            }
            if ready == [false, false] {
                if let Some(rest) = rest {
                    std::thread::sleep(rest);
                }
                ready = waiter.wait();
            }
        }
    }

    /// Sends every next hop an OPTIONS every `every`, on a task of its own; a hop that leaves
    /// two in a row unanswered is down (its calls go to the next of its service's hops, or
    /// get 503) until it answers again.
    pub fn keep_alive(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let health = me.proxy.health.clone();
            for seq in 1u32.. {
                for at in 0..health.len() {
                    if seq > 1 {
                        health.probe_due(at, 1, every * 2);
                    }
                    if let Some(out) = me.proxy.keepalive(at, seq) {
                        me.send(out);
                    }
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    fn me(&self) -> Arc<dyn Deliver> {
        self.me.upgrade().expect("the sockets live while they send")
    }

    /// Sends a message where it goes, without waiting; failures are counted and logged
    /// (SIP's retransmissions recover).
    pub fn send(&self, out: Outgoing) {
        match out.to.transport {
            Transport::Udp => {
                if let Err(error) = self.udp[slot(out.to.side)].send_to(&out.bytes, out.to.addr) {
                    self.proxy.metrics.send_failed();
                    tracing::debug!(%error, to = %out.to.addr, "sending failed");
                }
            }
            Transport::Tcp | Transport::Tls => {
                let deliver = self.me();
                self.tcp.send(&out.to, out.bytes, &deliver);
            }
        }
    }
}

/// Buffers for the datagrams a UDP thread takes from a socket in one `recvmmsg`.
struct Inbox {
    buffers: Vec<Vec<u8>>,
    addresses: Vec<libc::sockaddr_storage>,
    vectors: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Inbox {
    fn new(batch: usize) -> Self {
        // SAFETY: all-zero bytes are a valid value of these plain C structs.
        let (address, vector, header) = unsafe { std::mem::zeroed() };
        Self {
            buffers: (0..batch).map(|_| vec![0u8; MAX_MESSAGE]).collect(),
            addresses: vec![address; batch],
            vectors: vec![vector; batch],
            headers: vec![header; batch],
        }
    }

    fn capacity(&self) -> usize {
        self.buffers.len()
    }

    /// Takes the datagrams waiting on `socket`, as many as fit, without waiting for one;
    /// returns how many (0 when none was waiting).
    fn receive_now(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        for at in 0..self.capacity() {
            self.vectors[at] = libc::iovec {
                iov_base: self.buffers[at].as_mut_ptr().cast(),
                iov_len: self.buffers[at].len(),
            };
            let header = &mut self.headers[at];
            header.msg_hdr.msg_name =
                (&mut self.addresses[at] as *mut libc::sockaddr_storage).cast();
            header.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            header.msg_hdr.msg_iov = &mut self.vectors[at];
            header.msg_hdr.msg_iovlen = 1;
            header.msg_len = 0;
        }
        // SAFETY: every header points at a buffer, an iovec and an address of `self` that
        // outlive the call, with their true lengths; the kernel writes no more than those.
        let got = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.capacity() as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got >= 0 {
            return Ok(got as usize);
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Ok(0),
            _ => Err(error),
        }
    }

    /// The `at`th datagram of the last [`Inbox::receive_now`] and who sent it.
    fn datagram(&self, at: usize) -> Option<(&[u8], SocketAddr)> {
        let header = &self.headers[at];
        let mut storage = socket2::SockAddrStorage::zeroed();
        // SAFETY: the storage is a `sockaddr_storage` (socket2 says so), and the kernel wrote
        // a socket address of `msg_namelen` bytes into ours.
        let from = unsafe {
            *storage.view_as::<libc::sockaddr_storage>() = self.addresses[at];
            socket2::SockAddr::new(storage, header.msg_hdr.msg_namelen)
        };
        let len = (header.msg_len as usize).min(MAX_MESSAGE);
        Some((&self.buffers[at][..len], from.as_socket()?))
    }
}

/// The datagrams a UDP thread will send from one socket with `sendmmsg`, and the arrays that
/// call reads (kept from one batch to the next).
struct Outbox {
    queued: Vec<Outgoing>,
    addresses: Vec<socket2::SockAddr>,
    vectors: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Outbox {
    fn new(batch: usize) -> Self {
        Self {
            queued: Vec::with_capacity(batch),
            addresses: Vec::with_capacity(batch),
            vectors: Vec::with_capacity(batch),
            headers: Vec::with_capacity(batch),
        }
    }

    /// Sends the queued datagrams from `socket` with as few system calls as it takes and
    /// empties the queue; a datagram that cannot be sent is logged and skipped (SIP's
    /// retransmissions recover).
    fn send_all(&mut self, socket: &UdpSocket) {
        use std::os::fd::AsRawFd;
        if self.queued.is_empty() {
            return;
        }
        self.addresses.clear();
        self.vectors.clear();
        self.headers.clear();
        for out in &self.queued {
            self.addresses.push(socket2::SockAddr::from(out.to.addr));
            self.vectors.push(libc::iovec {
                iov_base: out.bytes.as_ptr() as *mut libc::c_void,
                iov_len: out.bytes.len(),
            });
        }
        for (address, vector) in self.addresses.iter().zip(self.vectors.iter_mut()) {
            // SAFETY: all-zero bytes are a valid `mmsghdr`.
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_name = address.as_ptr() as *mut libc::c_void;
            header.msg_hdr.msg_namelen = address.len();
            header.msg_hdr.msg_iov = vector;
            header.msg_hdr.msg_iovlen = 1;
            self.headers.push(header);
        }
        let mut sent = 0;
        while sent < self.headers.len() {
            // SAFETY: each header points at an address, an iovec and bytes of `self` that are
            // not touched until the call returns; the kernel only reads them (and writes
            // `msg_len`).
            let done = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.headers[sent..].as_mut_ptr(),
                    (self.headers.len() - sent) as u32,
                    0,
                )
            };
            if done > 0 {
                sent += done as usize;
                continue;
            }
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // The first datagram not yet sent failed: say so and go on with the next.
            tracing::debug!(%error, to = %self.queued[sent].to.addr, "sending failed");
            sent += 1;
        }
        self.queued.clear();
    }
}

/// Where a UDP thread sleeps until either socket has a datagram: its own epoll set holding
/// both, registered as exclusive, so that a datagram wakes one idle thread rather than all.
/// A thread already at work is not woken; the next idle one is.
struct Waiter {
    epoll: std::os::fd::OwnedFd,
}

impl Waiter {
    fn new(sockets: &[UdpSocket; 2]) -> std::io::Result<Self> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain system calls on descriptors this process owns; the new descriptor is
        // owned by the `OwnedFd` from here on.
        unsafe {
            let fd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let epoll = std::os::fd::OwnedFd::from_raw_fd(fd);
            for (at, socket) in sockets.iter().enumerate() {
                let mut event = libc::epoll_event {
                    events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32,
                    u64: at as u64,
                };
                let added = libc::epoll_ctl(
                    epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    socket.as_raw_fd(),
                    &mut event,
                );
                if added < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(Self { epoll })
        }
    }

    /// Sleeps until a socket may have a datagram (another thread may take it first); returns
    /// which (by [`slot`]).
    fn wait(&self) -> [bool; 2] {
        use std::os::fd::AsRawFd;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: the kernel writes at most `events.len()` entries into `events`.
        let woken = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 2, -1) };
        if woken < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                tracing::warn!(%error, "waiting for UDP datagrams failed");
                std::thread::sleep(Duration::from_millis(10));
            }
            return [true, true];
        }
        let mut ready = [false, false];
        for event in &events[..woken as usize] {
            let at = event.u64;
            if let Some(flag) = ready.get_mut(at as usize) {
                *flag = true;
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::{Inbox, Outbox};
    use crate::edge::proxy::{Destination, Outgoing, Side, Transport};
    use std::net::UdpSocket;

    #[test]
    fn datagrams_go_out_and_come_in_by_the_batch_in_order_with_their_senders() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        let mut outbox = Outbox::new(2);
        for text in ["INVITE one", "ACK two", "BYE three"] {
            outbox.queued.push(Outgoing {
                to: Destination {
                    side: Side::Service,
                    transport: Transport::Udp,
                    addr: to,
                    connection: None,
                },
                bytes: text.as_bytes().to_vec(),
            });
        }
        outbox.send_all(&sender);
        assert!(outbox.queued.is_empty(), "a sent queue is emptied");

        // Loopback delivers at once; give a slow machine a moment all the same.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut inbox = Inbox::new(2);
        let mut seen = Vec::new();
        for expected in [2, 1, 0] {
            let got = inbox.receive_now(&receiver).unwrap();
            assert_eq!(got, expected, "a full batch, then the rest, then nothing");
            for at in 0..got {
                let (bytes, from) = inbox.datagram(at).unwrap();
                assert_eq!(from, sender.local_addr().unwrap());
                seen.push(String::from_utf8(bytes.to_vec()).unwrap());
            }
        }
        assert_eq!(seen, ["INVITE one", "ACK two", "BYE three"]);
    }
}
