//! Deciding what to do with one DNS query, pure: answer it from a network's names, refuse it,
//! or hand it to the upstream resolvers unchanged.

use std::net::IpAddr;

use engine::network::NetworkRecord;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// Time to live of the names we answer (Docker's).
pub(crate) const TTL: u32 = 600;

/// The largest UDP answer without EDNS (RFC 1035).
const UDP_PLAIN_LIMIT: usize = 512;

/// The EDNS payload size we announce and honour at most (DNS flag day 2020).
const UDP_EDNS_LIMIT: u16 = 1232;

/// What the server does with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Relay the query to the upstream resolvers and their answer back.
    Forward,
    /// Say nothing (the datagram is not a DNS message).
    Ignore,
}

/// Over which transport the query came (UDP answers are bounded in size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// UDP: answers over the client's size limit are truncated.
    Udp,
    /// TCP: no size limit.
    Tcp,
}

/// Decides about the query `request` from `source` for network `network`: only clients inside
/// the network's subnet are served; names of the network are answered with TTL [`TTL`]; other
/// names are forwarded, except on internal networks, which have no way out.
pub(crate) fn answer(
    request: &[u8],
    source: IpAddr,
    network: &NetworkRecord,
    transport: Transport,
) -> Outcome {
    let Ok(query) = Message::from_vec(request) else {
        return match header_id(request) {
            Some(id) => reply(
                Message::error_msg(id, OpCode::Query, ResponseCode::FormErr),
                None,
                transport,
            ),
            None => Outcome::Ignore,
        };
    };
    if query.metadata.message_type != MessageType::Query {
        return Outcome::Ignore;
    }
    let code = |rcode| error(&query, rcode, transport);
    if !in_network(source, network) {
        return code(ResponseCode::Refused);
    }
    if query.metadata.op_code != OpCode::Query {
        return code(ResponseCode::NotImp);
    }
    let [question] = query.queries.as_slice() else {
        return code(ResponseCode::FormErr);
    };
    let qname = question.name().to_ascii();
    let ports = engine::network::dns::srv(network, &qname);
    if !ports.is_empty() {
        return reply(
            srv_response(&query, network, &ports),
            Some(&query),
            transport,
        );
    }
    let addrs = engine::network::dns::lookup(network, &qname);
    if addrs.is_empty() {
        return if network.internal {
            code(ResponseCode::Refused)
        } else {
            Outcome::Forward
        };
    }
    let mut response = response_to(&query, ResponseCode::NoError);
    response.metadata.authoritative = true;
    if question.query_class() == DNSClass::IN {
        let name = question.name().clone();
        let records: Vec<Record> = match question.query_type() {
            RecordType::A => addrs
                .iter()
                .map(|ip| Record::from_rdata(name.clone(), TTL, RData::A(A(*ip))))
                .collect(),
            RecordType::AAAA => engine::network::dns::lookup_v6(network, &qname)
                .into_iter()
                .map(|ip| Record::from_rdata(name.clone(), TTL, RData::AAAA(AAAA(ip))))
                .collect(),
            _ => Vec::new(),
        };
        response.add_answers(records);
    }
    reply(response, Some(&query), transport)
}

/// The answer to a query for a service's named port (`_<port>._<protocol>.<service>`): for
/// type SRV, one record per port `(service, port)` of `ports` (priority and weight 0, the
/// service's name as target) with the target's addresses as additional records; for any
/// other type, no record (the name exists).
fn srv_response(query: &Message, network: &NetworkRecord, ports: &[(String, u16)]) -> Message {
    let mut response = response_to(query, ResponseCode::NoError);
    response.metadata.authoritative = true;
    let Some(question) = query.queries.first() else {
        return response;
    };
    if question.query_class() != DNSClass::IN || question.query_type() != RecordType::SRV {
        return response;
    }
    for (service, port) in ports {
        let Ok(target) = Name::from_ascii(format!("{service}.")) else {
            continue;
        };
        let srv = SRV::new(0, 0, *port, target.clone());
        response.add_answer(Record::from_rdata(
            question.name().clone(),
            TTL,
            RData::SRV(srv),
        ));
        for ip in engine::network::dns::lookup(network, service) {
            response.add_additional(Record::from_rdata(target.clone(), TTL, RData::A(A(ip))));
        }
    }
    response
}

/// Whether `source` lies in one of the network's subnets.
fn in_network(source: IpAddr, network: &NetworkRecord) -> bool {
    match source {
        IpAddr::V4(v4) => network.subnet.contains(&v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network.subnet.contains(&v4),
            None => network.subnet_v6.is_some_and(|s| s.contains(&v6)),
        },
    }
}

/// The id of a message too broken to parse, when at least its header is there.
fn header_id(request: &[u8]) -> Option<u16> {
    let bytes: [u8; 2] = request.get(..2)?.try_into().ok()?;
    // Only answer what claims to be a query (QR bit clear) with a full header.
    (request.len() >= 12 && request[2] & 0x80 == 0).then(|| u16::from_be_bytes(bytes))
}

fn response_to(query: &Message, code: ResponseCode) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.response_code = code;
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(query.queries.iter().cloned());
    response
}

fn error(query: &Message, code: ResponseCode, transport: Transport) -> Outcome {
    reply(response_to(query, code), Some(query), transport)
}

/// Encodes `response`, echoing EDNS when the query had it, truncated to what a UDP client
/// accepts.
fn reply(mut response: Message, query: Option<&Message>, transport: Transport) -> Outcome {
    let client_edns = query.and_then(|q| q.edns.as_ref());
    if client_edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_EDNS_LIMIT);
        response.set_edns(edns);
    }
    let limit = match client_edns {
        Some(e) => usize::from(e.max_payload().clamp(512, UDP_EDNS_LIMIT)),
        None => UDP_PLAIN_LIMIT,
    };
    let Ok(bytes) = response.to_vec() else {
        return Outcome::Ignore;
    };
    if transport == Transport::Udp && bytes.len() > limit {
        return match response.truncate().to_vec() {
            Ok(bytes) => Outcome::Reply(bytes),
            Err(_) => Outcome::Ignore,
        };
    }
    Outcome::Reply(bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    use engine::network::Endpoint;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    use super::*;

    fn network(internal: bool, replicas: u8) -> NetworkRecord {
        let mut endpoints = BTreeMap::new();
        for n in 0..replicas {
            let id = format!("{:0>64}", format!("{n:x}a"));
            endpoints.insert(
                id.clone(),
                Endpoint {
                    container_id: id,
                    container_name: format!("app-web-{}", n + 1),
                    aliases: vec!["web".into()],
                    ipv4: Ipv4Addr::new(10, 5, 0, 2 + n),
                    ipv6: None,
                    mac: String::new(),
                    ifname: "eth0".into(),
                    host_ifname: String::new(),
                    ports: vec![],
                    netns: None,
                },
            );
        }
        NetworkRecord {
            id: "ab".repeat(32),
            name: "app_default".into(),
            driver: "bridge".into(),
            internal,
            labels: BTreeMap::new(),
            subnet: "10.5.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 5, 0, 1),
            ip_range: None,
            subnet_v6: None,
            gateway_v6: None,
            mtu: 1500,
            bridge: "bsn-abababab".into(),
            created: 0,
            endpoints,
            overlay: None,
        }
    }

    fn query(name: &str, kind: RecordType, edns: bool) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 4242;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    fn client() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 5, 0, 9))
    }

    fn parse(outcome: Outcome) -> Message {
        match outcome {
            Outcome::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
            other => panic!("not a reply: {other:?}"),
        }
    }

    fn addresses(m: &Message) -> Vec<String> {
        m.answers.iter().map(|r| r.data.to_string()).collect()
    }

    #[test]
    fn answers_names_aliases_and_every_replica_case_insensitively() {
        let net = network(false, 3);
        let cases: &[(&str, &[&str])] = &[
            ("app-web-2", &["10.5.0.3"]),
            ("APP-Web-1.", &["10.5.0.2"]),
            ("web", &["10.5.0.2", "10.5.0.3", "10.5.0.4"]),
            ("web.app_default", &["10.5.0.2", "10.5.0.3", "10.5.0.4"]),
        ];
        for (name, want) in cases {
            let m = parse(answer(
                &query(name, RecordType::A, false),
                client(),
                &net,
                Transport::Udp,
            ));
            assert_eq!(m.metadata.id, 4242);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
            assert!(m.metadata.authoritative && m.metadata.recursion_desired);
            assert_eq!(addresses(&m), *want, "{name}");
            assert!(m.answers.iter().all(|r| r.ttl == TTL));
            assert_eq!(m.queries.len(), 1);
        }
    }

    #[test]
    fn a_named_port_of_a_service_answers_its_srv_name() {
        let mut net = network(false, 1);
        let vip = Ipv4Addr::new(10, 5, 0, 200);
        net.overlay = Some(
            serde_json::from_value(serde_json::json!({
                "vni": 4096, "port": 4789, "underlay": "192.0.2.1", "vxlan": "bsn-abababab-vx",
                "attachable": false, "peers": [],
                "services": [{"vip": vip, "names": ["api"], "backends": ["10.5.0.2"],
                              "ports": [{"name": "http", "protocol": "tcp", "port": 8080}]}],
            }))
            .unwrap(),
        );
        let m = parse(answer(
            &query("_http._tcp.api", RecordType::SRV, false),
            client(),
            &net,
            Transport::Udp,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        let [record] = m.answers.as_slice() else {
            panic!("one SRV record: {m:?}")
        };
        let RData::SRV(srv) = &record.data else {
            panic!("not SRV: {record:?}")
        };
        assert_eq!((srv.port, srv.target.to_ascii().as_str()), (8080, "api."));
        assert_eq!(record.ttl, TTL);
        // The target's address comes along.
        let extra: Vec<String> = m.additionals.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(extra, [vip.to_string()]);
        // The name exists for other types, with no record; another protocol is not it.
        let m = parse(answer(
            &query("_http._tcp.api", RecordType::A, false),
            client(),
            &net,
            Transport::Udp,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        let other = answer(
            &query("_http._udp.api", RecordType::SRV, false),
            client(),
            &net,
            Transport::Udp,
        );
        assert_eq!(other, Outcome::Forward);
    }

    #[test]
    fn known_name_without_that_type_is_an_empty_answer() {
        let m = parse(answer(
            &query("web", RecordType::AAAA, true),
            client(),
            &network(false, 1),
            Transport::Udp,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert!(m.edns.is_some(), "EDNS is echoed");
    }

    #[test]
    fn clients_outside_the_subnet_are_refused() {
        for source in ["10.6.0.2", "127.0.0.1", "::1"] {
            let m = parse(answer(
                &query("web", RecordType::A, false),
                source.parse().unwrap(),
                &network(false, 1),
                Transport::Udp,
            ));
            assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{source}");
            assert!(m.answers.is_empty());
        }
        let mapped = "::ffff:10.5.0.7".parse().unwrap();
        let m = parse(answer(
            &query("web", RecordType::A, false),
            mapped,
            &network(false, 1),
            Transport::Udp,
        ));
        assert_eq!(addresses(&m), ["10.5.0.2"]);
    }

    #[test]
    fn other_names_are_forwarded_except_on_internal_networks() {
        let q = query("example.com", RecordType::A, false);
        assert_eq!(
            answer(&q, client(), &network(false, 1), Transport::Udp),
            Outcome::Forward
        );
        let m = parse(answer(&q, client(), &network(true, 1), Transport::Udp));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        // A name of another network is not ours either.
        let other = query("web.other_net", RecordType::A, false);
        assert_eq!(
            answer(&other, client(), &network(false, 1), Transport::Udp),
            Outcome::Forward
        );
    }

    #[test]
    fn broken_and_odd_messages() {
        let net = network(false, 1);
        assert_eq!(answer(b"", client(), &net, Transport::Udp), Outcome::Ignore);
        let mut garbage = vec![0x12, 0x34, 0x01, 0x00];
        garbage.extend([0xff; 12]);
        let m = parse(answer(&garbage, client(), &net, Transport::Udp));
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (0x1234, ResponseCode::FormErr)
        );
        // A response is never answered (no loops between servers).
        let mut response = Message::from_vec(&query("web", RecordType::A, false)).unwrap();
        response.metadata.message_type = MessageType::Response;
        let bytes = response.to_vec().unwrap();
        assert_eq!(
            answer(&bytes, client(), &net, Transport::Udp),
            Outcome::Ignore
        );
        let mut notify = Message::from_vec(&query("web", RecordType::A, false)).unwrap();
        notify.metadata.op_code = OpCode::Notify;
        let m = parse(answer(
            &notify.to_vec().unwrap(),
            client(),
            &net,
            Transport::Udp,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    }

    #[test]
    fn large_udp_answers_are_truncated_but_not_over_tcp() {
        let net = network(false, 60);
        let q = query("web", RecordType::A, false);
        let udp = parse(answer(&q, client(), &net, Transport::Udp));
        assert!(udp.metadata.truncation && udp.answers.is_empty());
        let tcp = parse(answer(&q, client(), &net, Transport::Tcp));
        assert!(!tcp.metadata.truncation);
        assert_eq!(tcp.answers.len(), 60);
        let edns = parse(answer(
            &query("web", RecordType::A, true),
            client(),
            &net,
            Transport::Udp,
        ));
        assert_eq!(edns.answers.len(), 60, "60 A records fit in 1232 bytes");
    }
}
