//! Host sockets for published ports, bound as the userland proxy needs them and as the
//! conflict check tries them: `SO_REUSEADDR`, and IPv6 sockets IPv6-only, so that `[::]`
//! stands for the IPv6 addresses alone and never takes an IPv4 port.

use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Socket, Type};

fn socket(addr: SocketAddr, kind: Type) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

/// A listening TCP socket on `addr`.
pub fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket(addr, Type::STREAM)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// A UDP socket bound to `addr`.
pub fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket(addr, Type::DGRAM)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_wildcard_leaves_ipv4_alone() {
        if bind_tcp("[::1]:0".parse().unwrap()).is_err() {
            eprintln!("note: no IPv6 loopback here; the IPv6-only check is skipped");
            return;
        }
        let v4 = bind_tcp("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = bind_tcp(SocketAddr::new("::".parse().unwrap(), port));
        assert!(v6.is_ok(), "{v6:?}");
        let udp4 = bind_udp("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = udp4.local_addr().unwrap().port();
        assert!(bind_udp(SocketAddr::new("::".parse().unwrap(), port)).is_ok());
        assert!(bind_udp(SocketAddr::new("0.0.0.0".parse().unwrap(), port)).is_err());
    }
}
