//! A small synchronous netlink transport: one request (or one nftables batch) at a time on a
//! blocking socket, answered by its acknowledgement, its error, or a dump.

use std::fmt::Debug;
use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable,
};
use netlink_sys::{Socket, SocketAddr, protocols};

/// A bound netlink socket in the network namespace of the thread that opened it.
#[derive(Debug)]
pub(super) struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// A `NETLINK_ROUTE` socket (links, addresses, routes).
    pub(super) fn route() -> io::Result<Self> {
        Self::open(protocols::NETLINK_ROUTE)
    }

    /// A `NETLINK_NETFILTER` socket (nftables).
    pub(super) fn netfilter() -> io::Result<Self> {
        Self::open(protocols::NETLINK_NETFILTER)
    }

    /// A `NETLINK_XFRM` socket (IPsec SAs and policies).
    pub(super) fn xfrm() -> io::Result<Self> {
        Self::open(protocols::NETLINK_XFRM)
    }

    fn open(protocol: isize) -> io::Result<Self> {
        let mut socket = Socket::new(protocol)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        socket.set_ext_ack(true).ok();
        Ok(Self { socket, seq: 0 })
    }

    fn send<T: NetlinkSerializable + Debug>(
        &mut self,
        msgs: &mut [NetlinkMessage<T>],
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        for msg in msgs.iter_mut() {
            self.seq = self.seq.wrapping_add(1);
            msg.header.sequence_number = self.seq;
            msg.finalize();
            let start = buf.len();
            buf.resize(start + msg.buffer_len(), 0);
            msg.serialize(&mut buf[start..]);
        }
        self.socket.send(&buf, 0)?;
        Ok(())
    }

    /// Reads answers until `acks` acknowledgements arrived (or a dump ended when `dump`); returns
    /// the inner messages, or the first error the kernel reported.
    fn collect<T: NetlinkDeserializable + Debug>(
        &mut self,
        mut acks: usize,
        dump: bool,
    ) -> io::Result<Vec<T>> {
        let mut out = Vec::new();
        loop {
            let (buf, _) = self.socket.recv_from_full()?;
            let mut offset = 0;
            while offset < buf.len() {
                let msg = NetlinkMessage::<T>::deserialize(&buf[offset..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += len.next_multiple_of(4);
                match msg.payload {
                    NetlinkPayload::Done(_) if dump => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) => {
                        acks = acks.saturating_sub(1);
                        if acks == 0 && !dump {
                            return Ok(out);
                        }
                    }
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    /// Sends one request and waits for its acknowledgement.
    pub(super) fn request<T>(&mut self, inner: T, flags: u16) -> io::Result<()>
    where
        T: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        let mut msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(inner),
        );
        msg.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        self.send(std::slice::from_mut(&mut msg))?;
        self.collect::<T>(1, false).map(|_| ())
    }

    /// Sends a dump request and returns every answer.
    pub(super) fn dump<T>(&mut self, inner: T) -> io::Result<Vec<T>>
    where
        T: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        let mut msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(inner),
        );
        msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        self.send(std::slice::from_mut(&mut msg))?;
        self.collect(0, true)
    }

    /// Sends a prepared message (flags as set by the caller) and returns the answers until the
    /// dump ends.
    pub(super) fn dump_raw<T>(&mut self, mut msg: NetlinkMessage<T>) -> io::Result<Vec<T>>
    where
        T: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        self.send(std::slice::from_mut(&mut msg))?;
        self.collect(0, true)
    }

    /// Sends a prepared message carrying `NLM_F_ACK` and returns the answers before the
    /// acknowledgement.
    pub(super) fn exchange<T>(&mut self, mut msg: NetlinkMessage<T>) -> io::Result<Vec<T>>
    where
        T: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        self.send(std::slice::from_mut(&mut msg))?;
        self.collect(1, false)
    }

    /// Sends messages in one datagram; `acked` of them carry `NLM_F_ACK` and are awaited.
    pub(super) fn batch<T>(
        &mut self,
        msgs: &mut [NetlinkMessage<T>],
        acked: usize,
    ) -> io::Result<()>
    where
        T: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        self.send(msgs)?;
        self.collect::<T>(acked, false).map(|_| ())
    }
}
