//! Network integration tests (root): bridge networks, veth attachments, published ports,
//! isolation, internal networks and coexistence with a FORWARD drop policy. Every test runs in
//! namespaces of its own (see `support_net`).

#![allow(clippy::unwrap_used)]

mod support_net;

use std::net::Ipv4Addr;

use engine::network::link::Links;
use engine::network::{
    AttachRequest, CreateNetwork, Netns, NetworkError, Networks, PortProxy, ProxyPort, dns,
};
use support_net::*;

fn create(nets: &Networks, name: &str) -> engine::network::NetworkRecord {
    nets.create(&CreateNetwork {
        name: name.into(),
        ..Default::default()
    })
    .unwrap()
}

fn attach(
    nets: &Networks,
    net: &str,
    id: &str,
    ns: &Netns,
    ports: &[&str],
) -> engine::network::Endpoint {
    nets.attach(
        net,
        &AttachRequest {
            container_id: id.into(),
            container_name: format!("ctr-{id}"),
            aliases: vec![format!("alias-{id}")],
            ipv4: None,
            mac: None,
            ports: ports.iter().map(|p| p.parse().unwrap()).collect(),
            netns: ns,
            service_task: false,
        },
    )
    .unwrap()
}

#[test]
fn containers_on_one_network_reach_each_other_and_not_another_network() {
    run(|lab| {
        let a = create(&lab.nets, "front");
        let b = create(&lab.nets, "back");
        // A fresh namespace routes nothing: the pools' first subnets, skipping Docker's 172.17/16.
        assert_eq!(a.subnet.to_string(), "172.16.0.0/16");
        assert_eq!(b.subnet.to_string(), "172.18.0.0/16");
        let (c1, c2, c3) = (netns(), netns(), netns());
        let inodes = [inode(&c1), inode(&c2), inode(&c3)];
        let e1 = attach(&lab.nets, "front", "c1", &c1, &[]);
        let e2 = attach(&lab.nets, "front", "c2", &c2, &[]);
        let e3 = attach(&lab.nets, "back", "c3", &c3, &[]);
        assert_eq!(
            (e1.ipv4, e2.ipv4),
            (Ipv4Addr::new(172, 16, 0, 2), Ipv4Addr::new(172, 16, 0, 3))
        );
        assert_eq!(e3.ipv4, Ipv4Addr::new(172, 18, 0, 2));
        let server = tcp_server(&c2, 80, "c2");
        assert_eq!(
            tcp_ask(&c1, &format!("{}:80", e2.ipv4)),
            Ok("c2 saw 172.16.0.2".into())
        );
        assert!(
            tcp_ask(&c3, &format!("{}:80", e2.ipv4)).is_err(),
            "other network reached c2"
        );
        if have_busybox() {
            let ping = |ns: &Netns, ip: Ipv4Addr| {
                cmd_in(ns, &["busybox", "ping", "-c1", "-W1", &ip.to_string()]).0
            };
            assert!(ping(&c1, e2.ipv4), "ping on one network");
            assert!(!ping(&c3, e2.ipv4), "ping across networks");
        }
        // The container side: eth0 with the derived MAC and a default route via the gateway.
        let (_, addr) = cmd_in(&c1, &["ip", "-o", "-4", "addr", "show", "eth0"]);
        assert!(addr.contains("172.16.0.2/16"), "{addr}");
        let (_, link) = cmd_in(&c1, &["ip", "-o", "link", "show", "eth0"]);
        assert!(
            link.contains("02:42:ac:10:00:02") && link.contains("mtu 1500"),
            "{link}"
        );
        let (_, route) = cmd_in(&c1, &["ip", "route", "show", "default"]);
        assert!(route.contains("via 172.16.0.1 dev eth0"), "{route}");
        // The names DNS will answer.
        let front = lab.nets.inspect("front").unwrap();
        assert_eq!(dns::lookup(&front, "alias-c2.front"), vec![e2.ipv4]);
        assert_eq!(dns::lookup(&front, "ctr-c3"), Vec::<Ipv4Addr>::new());
        // A network with endpoints cannot go; detach removes the container's interface.
        let err = lab.nets.remove("front").unwrap_err();
        assert!(matches!(err, NetworkError::InUse { .. }), "{err}");
        lab.nets.detach("front", "c1").unwrap();
        let (_, links) = cmd_in(&c1, &["ip", "-o", "link"]);
        assert!(!links.contains("eth0"), "{links}");
        assert!(tcp_ask(&c1, &format!("{}:80", e2.ipv4)).is_err());
        drop(server);
        lab.nets.detach_all("c2").unwrap();
        lab.nets.detach_all("c3").unwrap();
        drop((c1, c2, c3));
        for ino in inodes {
            assert!(
                !netns_referenced(ino),
                "a container namespace is still held"
            );
        }
    });
}

#[test]
fn published_ports_answer_from_loopback_outside_and_hairpin() {
    run(|lab| {
        let client = outside(lab);
        create(&lab.nets, "web");
        let c1 = netns();
        let table = lab.nets.table().to_string();
        let handle = table_handle("ip", &table);
        let e1 = attach(
            &lab.nets,
            "web",
            "c1",
            &c1,
            &["8080:80", "127.0.0.1:5353:53/udp", "9000-9001:7000-7001"],
        );
        // The endpoint's rules were added to the table, not the table replaced.
        assert_eq!(table_handle("ip", &table), handle);
        let tagged = format!("comment \"{}\"", e1.host_ifname);
        let listing = nft(&["list", "table", "ip", &table]);
        assert_eq!(listing.matches(&tagged).count(), 4, "{listing}");
        let _tcp = tcp_server(&c1, 80, "web");
        let _udp = udp_server(&c1, 53, "dns");
        let _range = tcp_server(&c1, 7001, "range");
        let loopback = tcp_ask(&lab.host, "127.0.0.1:8080").unwrap();
        assert!(loopback.starts_with("web saw "), "{loopback}");
        assert_eq!(
            tcp_ask(&client, "192.0.2.1:8080"),
            Ok("web saw 192.0.2.2".into())
        );
        assert_eq!(
            tcp_ask(&client, "192.0.2.1:9001"),
            Ok("range saw 192.0.2.2".into())
        );
        assert!(
            udp_ask(&lab.host, "127.0.0.1:5353")
                .unwrap()
                .starts_with("dns saw ")
        );
        // Bound to 127.0.0.1 only: not published on the outside address.
        assert!(udp_ask(&client, "192.0.2.1:5353").is_err());
        // Hairpin: the container reaches its own published port through the host's addresses.
        assert_eq!(
            tcp_ask(&c1, "192.0.2.1:8080"),
            Ok("web saw 172.16.0.1".into())
        );
        assert_eq!(
            tcp_ask(&c1, "172.16.0.1:8080"),
            Ok("web saw 172.16.0.1".into())
        );
        // A conflicting port is refused before anything is created.
        let c2 = netns();
        let before = leftover_links();
        let err = lab
            .nets
            .attach(
                "web",
                &AttachRequest {
                    container_id: "c2".into(),
                    container_name: "c2".into(),
                    aliases: vec![],
                    ipv4: None,
                    mac: None,
                    ports: vec!["8080:81".parse().unwrap()],
                    netns: &c2,
                    service_task: false,
                },
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "port 0.0.0.0:8080/tcp is already allocated"
        );
        assert_eq!(leftover_links(), before);
        assert_eq!(lab.nets.inspect("web").unwrap().endpoints.len(), 1);
        // Rules go with the endpoint, alone.
        lab.nets.detach("web", "c1").unwrap();
        assert!(tcp_ask(&client, "192.0.2.1:8080").is_err());
        let listing = nft(&["list", "table", "ip", &table]);
        assert!(!listing.contains(&e1.ipv4.to_string()), "{listing}");
        assert!(listing.contains("masquerade"), "{listing}");
        assert_eq!(table_handle("ip", &table), handle);
        drop(client);
        Links::open().unwrap().delete("labhost").unwrap();
    });
}

#[test]
fn outbound_is_masqueraded_and_internal_networks_have_no_route_out() {
    run(|lab| {
        let client = outside(lab);
        let _outside_server = tcp_server(&client, 9000, "outside");
        create(&lab.nets, "public");
        lab.nets
            .create(&CreateNetwork {
                name: "private".into(),
                internal: true,
                ..Default::default()
            })
            .unwrap();
        let (c1, c2) = (netns(), netns());
        attach(&lab.nets, "public", "c1", &c1, &[]);
        attach(&lab.nets, "private", "c2", &c2, &[]);
        assert_eq!(
            tcp_ask(&c1, "192.0.2.2:9000"),
            Ok("outside saw 192.0.2.1".into())
        );
        let (_, route) = cmd_in(&c2, &["ip", "route", "show", "default"]);
        assert_eq!(route.trim(), "");
        let err = tcp_ask(&c2, "192.0.2.2:9000").unwrap_err();
        assert!(err.contains("unreachable"), "{err}");
        drop(client);
        Links::open().unwrap().delete("labhost").unwrap();
    });
}

#[test]
fn static_address_mac_mtu_and_several_networks() {
    run(|lab| {
        lab.nets
            .create(&CreateNetwork {
                name: "fixed".into(),
                subnet: Some("10.77.0.0/24".parse().unwrap()),
                gateway: Some("10.77.0.254".parse().unwrap()),
                ip_range: Some("10.77.0.128/25".parse().unwrap()),
                mtu: Some(1400),
                ..Default::default()
            })
            .unwrap();
        create(&lab.nets, "second");
        let overlap = lab.nets.create(&CreateNetwork {
            name: "clash".into(),
            subnet: Some("10.77.0.0/16".parse().unwrap()),
            ..Default::default()
        });
        assert!(
            overlap
                .unwrap_err()
                .to_string()
                .contains("overlaps network fixed")
        );
        let c1 = netns();
        let req = |ip: &str, mac: Option<&str>, id: &str, ns| AttachRequest {
            container_id: id.into(),
            container_name: id.into(),
            aliases: vec![],
            ipv4: Some(ip.parse().unwrap()),
            mac: mac.map(str::to_string),
            ports: vec![],
            netns: ns,
            service_task: false,
        };
        let ep = lab
            .nets
            .attach(
                "fixed",
                &req("10.77.0.50", Some("02:aa:bb:cc:dd:ee"), "c1", &c1),
            )
            .unwrap();
        assert_eq!(ep.ifname, "eth0");
        let (_, link) = cmd_in(&c1, &["ip", "-o", "link", "show", "eth0"]);
        assert!(
            link.contains("02:aa:bb:cc:dd:ee") && link.contains("mtu 1400"),
            "{link}"
        );
        let (_, route) = cmd_in(&c1, &["ip", "route", "show", "default"]);
        assert!(route.contains("via 10.77.0.254"), "{route}");
        // A dynamic address comes from the ip_range.
        let c2 = netns();
        let dynamic = attach(&lab.nets, "fixed", "c2", &c2, &[]);
        assert_eq!(dynamic.ipv4, Ipv4Addr::new(10, 77, 0, 128));
        let c3 = netns();
        let taken = lab
            .nets
            .attach("fixed", &req("10.77.0.50", None, "c3", &c3))
            .unwrap_err();
        assert_eq!(
            taken.to_string(),
            "network fixed: address 10.77.0.50 is already in use"
        );
        // A second network gives the container eth1; the first default route stays.
        let second = attach(&lab.nets, "second", "c1", &c1, &[]);
        assert_eq!(second.ifname, "eth1");
        let (_, addr) = cmd_in(&c1, &["ip", "-o", "-4", "addr", "show", "eth1"]);
        assert!(addr.contains(&second.ipv4.to_string()), "{addr}");
        let server = tcp_server(&c1, 80, "multi");
        let c4 = netns();
        attach(&lab.nets, "second", "c4", &c4, &[]);
        assert_eq!(
            tcp_ask(&c4, &format!("{}:80", second.ipv4)).map(|s| s.starts_with("multi")),
            Ok(true)
        );
        assert_eq!(
            tcp_ask(&c2, "10.77.0.50:80").map(|s| s.starts_with("multi")),
            Ok(true)
        );
        drop(server);
    });
}

#[test]
fn works_under_a_forward_drop_policy_and_leaves_that_chain_clean() {
    run(|lab| {
        // What iptables-nft (and so Docker) leaves on a host: FORWARD with policy drop.
        let script = "add table ip filter\nadd chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }\n";
        let mut child = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        let _ = std::fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
        let client = outside(lab);
        let _outside_server = tcp_server(&client, 9000, "outside");
        create(&lab.nets, "guarded");
        let (c1, c2) = (netns(), netns());
        let e1 = attach(&lab.nets, "guarded", "c1", &c1, &["8080:80"]);
        attach(&lab.nets, "guarded", "c2", &c2, &[]);
        let _web = tcp_server(&c1, 80, "web");
        assert_eq!(
            tcp_ask(&client, "192.0.2.1:8080"),
            Ok("web saw 192.0.2.2".into())
        );
        assert_eq!(
            tcp_ask(&c1, "192.0.2.2:9000"),
            Ok("outside saw 192.0.2.1".into())
        );
        assert_eq!(
            tcp_ask(&c2, &format!("{}:80", e1.ipv4)),
            Ok("web saw 172.16.0.3".into())
        );
        // Traffic that is not ours is still dropped by their policy.
        let stranger = netns();
        assert!(tcp_ask(&stranger, "192.0.2.2:9000").is_err());
        lab.nets.detach_all("c1").unwrap();
        lab.nets.detach_all("c2").unwrap();
        lab.nets.remove("guarded").unwrap();
        let chain = nft(&["list", "chain", "ip", "filter", "FORWARD"]);
        assert!(
            chain.contains("policy drop") && !chain.contains("bsn-"),
            "{chain}"
        );
        nft(&["delete", "table", "ip", "filter"]);
        drop(client);
        Links::open().unwrap().delete("labhost").unwrap();
    });
}

#[test]
fn ipv6_networks_address_containers_and_keep_networks_apart() {
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        eprintln!("note: IPv6 is disabled on this host; the IPv6 network test is skipped");
        return;
    }
    run(|lab| {
        let v6 = lab
            .nets
            .create(&CreateNetwork {
                name: "dual".into(),
                enable_ipv6: true,
                subnet_v6: Some("fd00:77::/64".parse().unwrap()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(v6.gateway_v6, Some("fd00:77::1".parse().unwrap()));
        let auto = lab
            .nets
            .create(&CreateNetwork {
                name: "auto6".into(),
                enable_ipv6: true,
                ..Default::default()
            })
            .unwrap();
        let auto_subnet = auto.subnet_v6.unwrap();
        assert!(
            auto_subnet.to_string().starts_with("fd") && auto_subnet.prefix_len() == 64,
            "{auto_subnet}"
        );
        let clash = lab.nets.create(&CreateNetwork {
            name: "clash6".into(),
            enable_ipv6: true,
            subnet_v6: Some("fd00:77::/48".parse().unwrap()),
            ..Default::default()
        });
        assert!(
            clash
                .unwrap_err()
                .to_string()
                .contains("overlaps network dual")
        );
        let (c1, c2, c3) = (netns(), netns(), netns());
        let e1 = attach(&lab.nets, "dual", "c1", &c1, &[]);
        let e2 = lab
            .nets
            .attach_with_v6(
                "dual",
                &AttachRequest {
                    container_id: "c2".into(),
                    container_name: "ctr-c2".into(),
                    aliases: vec!["alias-c2".into()],
                    ipv4: None,
                    mac: None,
                    ports: vec![],
                    netns: &c2,
                    service_task: false,
                },
                Some("fd00:77::99".parse().unwrap()),
            )
            .unwrap();
        attach(&lab.nets, "auto6", "c3", &c3, &[]);
        assert_eq!(e1.ipv6, Some("fd00:77::2".parse().unwrap()));
        assert_eq!(e2.ipv6, Some("fd00:77::99".parse().unwrap()));
        let (_, addr) = cmd_in(&c1, &["ip", "-o", "-6", "addr", "show", "eth0"]);
        assert!(addr.contains("fd00:77::2/64"), "{addr}");
        let (_, route) = cmd_in(&c1, &["ip", "-6", "route", "show", "default"]);
        assert!(route.contains("via fd00:77::1"), "{route}");
        let ping6 =
            |ns: &Netns, ip: &str| cmd_in(ns, &["busybox", "ping", "-6", "-c1", "-W2", ip]).0;
        assert!(ping6(&c1, "fd00:77::99"), "IPv6 on one network");
        assert!(!ping6(&c3, "fd00:77::99"), "IPv6 across networks");
        let dual = lab.nets.inspect("dual").unwrap();
        assert_eq!(
            dns::lookup_v6(&dual, "alias-c2.dual"),
            vec!["fd00:77::99".parse::<std::net::Ipv6Addr>().unwrap()]
        );
        // A static IPv6 address on a network without IPv6 is refused.
        let plain = create(&lab.nets, "plain");
        assert_eq!(plain.subnet_v6, None);
        let c4 = netns();
        let err = lab
            .nets
            .attach_with_v6(
                "plain",
                &AttachRequest {
                    container_id: "c4".into(),
                    container_name: "c4".into(),
                    aliases: vec![],
                    ipv4: None,
                    mac: None,
                    ports: vec![],
                    netns: &c4,
                    service_task: false,
                },
                Some("fd00:77::5".parse().unwrap()),
            )
            .unwrap_err();
        assert!(err.to_string().contains("has no IPv6"), "{err}");
    });
}

#[test]
fn the_gateway_keeps_its_mac_as_ports_come_and_go() {
    run(|lab| {
        let rec = create(&lab.nets, "steady");
        let bridge_mac = || {
            Links::open()
                .unwrap()
                .find(&rec.bridge)
                .unwrap()
                .unwrap()
                .mac
        };
        let fixed = bridge_mac();
        assert_eq!(fixed, engine::network::bridge_mac(&rec.id).to_vec());
        let _gateway_server = tcp_server(&lab.host, 7000, "gateway");
        let gateway = format!("{}:7000", rec.gateway);
        let c1 = netns();
        let e1 = attach(&lab.nets, "steady", "c1", &c1, &[]);
        let seen = format!("gateway saw {}", e1.ipv4);
        assert_eq!(tcp_ask(&c1, &gateway), Ok(seen.clone()));
        // A port with a MAC lower than any other joins, then leaves: a bridge without an
        // address of its own would take that MAC and give it back, and c1's cached entry for
        // the gateway would point at a MAC nobody answers to.
        let mut links = Links::open().unwrap();
        let low = links.create_veth("lablow", "lablowpeer", 1500).unwrap();
        links.set_mac(low, &[0, 0, 0, 0, 0, 1]).unwrap();
        links
            .set_master(
                low,
                Links::open()
                    .unwrap()
                    .find(&rec.bridge)
                    .unwrap()
                    .unwrap()
                    .index,
            )
            .unwrap();
        links.up(low).unwrap();
        assert_eq!(bridge_mac(), fixed, "a lower port joined");
        assert_eq!(tcp_ask(&c1, &gateway), Ok(seen.clone()));
        links.delete("lablow").unwrap();
        assert_eq!(bridge_mac(), fixed, "the lowest port left");
        assert_eq!(tcp_ask(&c1, &gateway), Ok(seen.clone()));
        // Containers coming and going, and a restore, leave it too.
        let c2 = netns();
        attach(&lab.nets, "steady", "c2", &c2, &[]);
        lab.nets.detach("steady", "c2").unwrap();
        lab.nets.restore().unwrap();
        assert_eq!(bridge_mac(), fixed, "after attach, detach and restore");
        assert_eq!(tcp_ask(&c1, &gateway), Ok(seen));
    });
}

#[test]
fn ipv6_is_masqueraded_published_isolated_and_passes_a_forward_drop_policy() {
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        eprintln!("note: IPv6 is disabled on this host; the IPv6 firewall test is skipped");
        return;
    }
    run(|lab| {
        // What ip6tables-nft leaves on a host whose Docker manages IPv6: FORWARD drops.
        let script = "add table ip6 filter\nadd chain ip6 filter FORWARD { type filter hook forward priority 0; policy drop; }\n";
        let mut child = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        let client = outside(lab);
        outside_v6(&client);
        let _outside_server = tcp_server6(&client, 9000, "outside");
        let v6_net = |name: &str, subnet: &str, internal: bool| {
            lab.nets
                .create(&CreateNetwork {
                    name: name.into(),
                    internal,
                    enable_ipv6: true,
                    subnet_v6: Some(subnet.parse().unwrap()),
                    ..Default::default()
                })
                .unwrap()
        };
        v6_net("dual", "fd00:66::/64", false);
        v6_net("closed", "fd00:67::/64", true);
        v6_net("other", "fd00:68::/64", false);
        let forwarding = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding");
        assert_eq!(forwarding.unwrap().trim(), "1");
        let (c1, c2, c3) = (netns(), netns(), netns());
        let e1 = attach(
            &lab.nets,
            "dual",
            "c1",
            &c1,
            &["8080:80", "127.0.0.1:8081:81"],
        );
        attach(&lab.nets, "closed", "c2", &c2, &[]);
        attach(&lab.nets, "other", "c3", &c3, &[]);
        assert_eq!(e1.ipv6, Some("fd00:66::2".parse().unwrap()));
        let _web = tcp_server6(&c1, 80, "web");
        // Published on the host's IPv6 addresses, from outside (source kept) and hairpin. The
        // first exchange over the links just made may be lost while their link-local addresses
        // are still tentative: it is retried for a few seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut published = tcp_ask(&client, "[2001:db8::1]:8080");
        while published.is_err() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(200));
            published = tcp_ask(&client, "[2001:db8::1]:8080");
        }
        assert_eq!(published, Ok("web saw 2001:db8::2".into()));
        assert_eq!(
            tcp_ask(&c1, "[2001:db8::1]:8080"),
            Ok("web saw fd00:66::1".into())
        );
        // A port bound to an IPv4 address is not published over IPv6.
        assert!(tcp_ask(&client, "[2001:db8::1]:8081").is_err());
        // Out through the host's address; not from an internal network.
        assert_eq!(
            tcp_ask(&c1, "[2001:db8::2]:9000"),
            Ok("outside saw 2001:db8::1".into())
        );
        let (_, route) = cmd_in(&c2, &["ip", "-6", "route", "show", "default"]);
        assert_eq!(route.trim(), "");
        assert!(tcp_ask(&c2, "[2001:db8::2]:9000").is_err());
        // Forwarding is on, yet the networks stay apart.
        assert!(tcp_ask(&c3, "[fd00:66::2]:80").is_err(), "across networks");
        // The rules go with the endpoint and the networks; their FORWARD chain keeps its own.
        lab.nets.detach_all("c1").unwrap();
        assert!(tcp_ask(&client, "[2001:db8::1]:8080").is_err());
        let listing = nft(&["list", "table", "ip6", lab.nets.table()]);
        assert!(!listing.contains("fd00:66::2"), "{listing}");
        lab.nets.detach_all("c2").unwrap();
        lab.nets.detach_all("c3").unwrap();
        for name in ["dual", "closed", "other"] {
            lab.nets.remove(name).unwrap();
        }
        let chain = nft(&["list", "chain", "ip6", "filter", "FORWARD"]);
        assert!(
            chain.contains("policy drop") && !chain.contains("bsn-"),
            "{chain}"
        );
        nft(&["delete", "table", "ip6", "filter"]);
        drop(client);
        Links::open().unwrap().delete("labhost").unwrap();
    });
}

/// A proxy that records what it is asked to serve, and can be told to fail.
#[derive(Debug, Default)]
struct RecordingProxy {
    calls: std::sync::Mutex<Vec<Vec<String>>>,
    fail: std::sync::atomic::AtomicBool,
}

impl PortProxy for RecordingProxy {
    fn serve(&self, ports: &[ProxyPort]) -> Result<(), NetworkError> {
        self.calls
            .lock()
            .unwrap()
            .push(ports.iter().map(|p| p.to_string()).collect());
        match ports.first() {
            Some(p) if self.fail.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(NetworkError::Publish {
                    port: p.listen.to_string(),
                    source: std::io::Error::from_raw_os_error(libc::EADDRINUSE),
                })
            }
            _ => Ok(()),
        }
    }
}

#[test]
fn the_proxy_is_handed_the_ports_dnat_cannot_serve() {
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        eprintln!("note: IPv6 is disabled on this host; the proxy hand-over test is skipped");
        return;
    }
    run(|lab| {
        create(&lab.nets, "plain");
        let (c1, c2, c3) = (netns(), netns(), netns());
        let e1 = attach(&lab.nets, "plain", "c1", &c1, &["[::1]:8080:80", "8079:79"]);
        // Installed later (as at agent start), it serves what the records already hold.
        let proxy = std::sync::Arc::new(RecordingProxy::default());
        lab.nets.set_proxy(proxy.clone()).unwrap();
        let e2 = attach(&lab.nets, "plain", "c2", &c2, &["[::]:8082:82/udp"]);
        lab.nets.detach("plain", "c1").unwrap();
        let one = format!("[::1]:8080/tcp -> {}:80", e1.ipv4);
        let two = format!("[::]:8082/udp -> {}:82", e2.ipv4);
        assert_eq!(
            *proxy.calls.lock().unwrap(),
            [vec![one.clone()], vec![one, two.clone()], vec![two.clone()]]
        );
        // A port the proxy cannot serve fails the attach, and nothing of it stays.
        proxy.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = lab
            .nets
            .attach(
                "plain",
                &AttachRequest {
                    container_id: "c3".into(),
                    container_name: "ctr-c3".into(),
                    aliases: vec![],
                    ipv4: None,
                    mac: None,
                    ports: vec!["[::1]:9090:90".parse().unwrap()],
                    netns: &c3,
                    service_task: false,
                },
            )
            .unwrap_err();
        assert!(err.to_string().starts_with("cannot publish port "), "{err}");
        assert!(
            !lab.nets
                .inspect("plain")
                .unwrap()
                .endpoints
                .contains_key("c3")
        );
        proxy.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(proxy.calls.lock().unwrap().last(), Some(&vec![two]));
    });
}
