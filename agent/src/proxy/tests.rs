//! The proxy on the loopback: TCP and UDP relayed, listeners closed (and their ports free) as
//! soon as they are no longer wanted, and a port that cannot be bound named in the error.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;

use engine::network::{PortProxy, Protocol, ProxyPort};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::PortProxies;

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(proxies: &Arc<PortProxies>, ports: Vec<ProxyPort>) -> Result<(), String> {
    let proxies = Arc::clone(proxies);
    tokio::task::spawn_blocking(move || proxies.serve(&ports).map_err(|e| e.to_string()))
        .await
        .unwrap()
}

/// A TCP server that answers `hello <what it read>` and closes.
async fn tcp_target() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = Vec::new();
                conn.read_to_end(&mut got).await.unwrap();
                conn.write_all(b"hello ").await.unwrap();
                conn.write_all(&got).await.unwrap();
            });
        }
    });
    addr
}

/// A UDP server that answers `udp-<datagram>`.
async fn udp_target() -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut answer = b"udp-".to_vec();
            answer.extend_from_slice(&buf[..n]);
            socket.send_to(&answer, from).await.unwrap();
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_tcp_and_udp_and_frees_ports_when_stopped() {
    let proxies = Arc::new(PortProxies::new(tokio::runtime::Handle::current()));
    let (tcp_port, udp_port) = (free_port(), free_port());
    let tcp = ProxyPort {
        protocol: Protocol::Tcp,
        listen: (Ipv4Addr::LOCALHOST, tcp_port).into(),
        target: tcp_target().await,
    };
    let udp = ProxyPort {
        protocol: Protocol::Udp,
        listen: (Ipv4Addr::LOCALHOST, udp_port).into(),
        target: udp_target().await,
    };
    serve(&proxies, vec![tcp, udp]).await.unwrap();
    assert_eq!(proxies.served(), [tcp, udp]);

    // TCP, with the client's half-close carried through.
    let mut conn = tokio::net::TcpStream::connect(tcp.listen).await.unwrap();
    conn.write_all(b"proxy").await.unwrap();
    conn.shutdown().await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert_eq!(answer, "hello proxy");

    // UDP, two clients, each getting its own answers.
    for word in ["one", "two"] {
        let client = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        client.send_to(word.as_bytes(), udp.listen).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (format!("udp-{word}").as_bytes(), udp.listen)
        );
    }

    // Serving the same list again changes nothing; dropping one closes it at once.
    serve(&proxies, vec![tcp, udp]).await.unwrap();
    serve(&proxies, vec![udp]).await.unwrap();
    assert_eq!(proxies.served(), [udp]);
    assert!(TcpListener::bind(tcp.listen).is_ok(), "tcp port still held");
    serve(&proxies, vec![]).await.unwrap();
    assert!(UdpSocket::bind(udp.listen).is_ok(), "udp port still held");
    assert!(proxies.served().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_cannot_be_bound_is_named_and_the_others_still_served() {
    let proxies = Arc::new(PortProxies::new(tokio::runtime::Handle::current()));
    let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let taken = ProxyPort {
        protocol: Protocol::Tcp,
        listen: held.local_addr().unwrap(),
        target: tcp_target().await,
    };
    let fine = ProxyPort {
        listen: (Ipv4Addr::LOCALHOST, free_port()).into(),
        ..taken
    };
    let err = serve(&proxies, vec![taken, fine]).await.unwrap_err();
    assert!(
        err.starts_with(&format!("cannot publish port {}/tcp: ", taken.listen)),
        "{err}"
    );
    assert_eq!(proxies.served(), [fine]);
    serve(&proxies, vec![]).await.unwrap();
}
