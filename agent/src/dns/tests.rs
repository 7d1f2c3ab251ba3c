//! A server on loopback over a real network store: answers, live updates, forwarding, TCP.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use engine::network::store::Store;
use engine::network::{Endpoint, NetworkRecord, Networks};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::server::{Zone, serve};

fn record() -> NetworkRecord {
    NetworkRecord {
        id: "cd".repeat(32),
        name: "lab".into(),
        driver: "bridge".into(),
        internal: false,
        labels: BTreeMap::new(),
        subnet: "127.0.0.0/8".parse().unwrap(),
        gateway: Ipv4Addr::new(127, 0, 0, 1),
        ip_range: None,
        subnet_v6: None,
        gateway_v6: None,
        mtu: 1500,
        bridge: "bsn-cdcdcdcd".into(),
        created: 0,
        endpoints: BTreeMap::new(),
        overlay: None,
    }
}

fn endpoint(id: &str, name: &str, last: u8) -> Endpoint {
    Endpoint {
        container_id: id.repeat(64 / id.len()),
        container_name: name.into(),
        aliases: vec!["svc".into()],
        ipv4: Ipv4Addr::new(10, 0, 0, last),
        ipv6: None,
        mac: String::new(),
        ifname: "eth0".into(),
        host_ifname: String::new(),
        ports: vec![],
        netns: None,
    }
}

fn query(name: &str) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

async fn ask_udp(server: SocketAddr, name: &str) -> Message {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(&query(name), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(5), s.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

#[tokio::test]
async fn serves_live_names_forwards_the_rest_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut rec = record();
    rec.endpoints
        .insert("a".repeat(64), endpoint("a", "app-svc-1", 2));
    store.save(&rec).unwrap();

    // The upstream: answers every query with REFUSED and a marker id check.
    let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = upstream.recv_from(&mut buf).await {
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut a =
                Message::error_msg(q.metadata.id, q.metadata.op_code, ResponseCode::NXDomain);
            a.add_queries(q.queries);
            upstream.send_to(&a.to_vec().unwrap(), peer).await.unwrap();
        }
    });

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(server).await.unwrap();
    let zone = Zone {
        networks: Networks::new(dir.path()).unwrap(),
        network_id: rec.id.clone(),
        upstreams: Arc::new(super::upstream::Upstreams::fixed(vec![upstream_addr])),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(udp, tcp, zone, async move {
        let _ = stopped.await;
    }));

    let m = ask_udp(server, "App-Svc-1.lab.").await;
    assert_eq!(addresses(&m), ["10.0.0.2"]);
    // A second replica shows up at once.
    rec.endpoints
        .insert("b".repeat(64), endpoint("b", "app-svc-2", 3));
    store.save(&rec).unwrap();
    assert_eq!(
        addresses(&ask_udp(server, "svc").await),
        ["10.0.0.2", "10.0.0.3"]
    );
    // Another name goes upstream and its answer comes back as given.
    let m = ask_udp(server, "example.org").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        m.queries[0].name().to_ascii().trim_end_matches('.'),
        "example.org"
    );

    // TCP, two queries on one connection.
    let mut s = TcpStream::connect(server).await.unwrap();
    for _ in 0..2 {
        let q = query("app-svc-2");
        s.write_u16(q.len() as u16).await.unwrap();
        s.write_all(&q).await.unwrap();
        let n = s.read_u16().await.unwrap();
        let mut buf = vec![0u8; usize::from(n)];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(addresses(&Message::from_vec(&buf).unwrap()), ["10.0.0.3"]);
    }

    stop.send(()).unwrap();
    task.await.unwrap();
    let again = UdpSocket::bind(server).await;
    assert!(again.is_ok(), "the port is free after shutdown");
}
