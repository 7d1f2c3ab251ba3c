//! Containers from images, with volumes, networks, published ports and network modes, over
//! the agent's API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use agent::AgentClient;
use agent::peer::PeerPolicy;
use agent::proto::{
    ContainerConfig, CreateRequest, LogsRequest, Mount, NetworkAttachment, PortBinding,
};
use engine::image::{ImportOptions, ImportSource};
use engine::network::{CreateNetwork, Networks};
use engine::volume::VolumeStore;
use libtest_mimic::Failed;

use super::support::{self, Env};
use super::{Case, TestResult};

/// The tests of this module.
pub fn cases() -> Vec<Case> {
    vec![
        (
            "image_defaults_volumes_and_removal",
            image_defaults_volumes_and_removal,
        ),
        ("networks_ports_and_modes", networks_ports_and_modes),
    ]
}

/// Imports the test rootfs (plus `/seed/hello.txt`) as `bb:1` with run defaults.
fn import_image(env: &Env) {
    let rootfs = env.tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("seed")).unwrap();
    std::fs::write(rootfs.join("seed/hello.txt"), "from the image\n").unwrap();
    let store = env.runtime().images().clone();
    store
        .import(
            ImportSource::Dir(&rootfs),
            &ImportOptions {
                reference: Some("bb:1".into()),
                changes: vec![
                    "ENV A=image B=image".into(),
                    "WORKDIR /srv".into(),
                    r#"CMD ["sh", "-c", "echo $A $B $(pwd)"]"#.into(),
                    "VOLUME /anon".into(),
                    "EXPOSE 80".into(),
                ],
                message: None,
            },
        )
        .unwrap();
}

fn image_config(env: &[&str], cmd: Option<&str>) -> ContainerConfig {
    ContainerConfig {
        image: "bb:1".into(),
        env: env.iter().map(|e| e.to_string()).collect(),
        cmd: cmd
            .map(|c| vec!["sh".into(), "-c".into(), c.into()])
            .unwrap_or_default(),
        has_cmd: cmd.is_some(),
        network_mode: "none".into(),
        mounts: vec![Mount {
            r#type: "volume".into(),
            source: "data".into(),
            target: "/seed".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn output(client: &mut AgentClient, id: &str) -> String {
    let mut stream = client
        .logs(LogsRequest {
            container: id.into(),
            tail: -1,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = String::new();
    while let Some(entry) = stream.next().await.unwrap() {
        out += &String::from_utf8_lossy(&entry.line);
    }
    out
}

/// Creates, starts and waits for a container; returns its id, exit code and output.
async fn run(
    client: &mut AgentClient,
    name: &str,
    config: ContainerConfig,
) -> (String, i32, String) {
    let id = client
        .create(CreateRequest {
            name: name.into(),
            config: Some(config),
            auto_remove: false,
        })
        .await
        .unwrap()
        .id;
    client.start(&id).await.unwrap();
    let code = client.wait(&id).await.unwrap().exit_code;
    let out = output(client, &id).await;
    (id, code, out)
}

/// Mount points under `dir` in this process's mount table.
fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&dir))
        .map(str::to_string)
        .collect()
}

fn image_defaults_volumes_and_removal() -> TestResult {
    let env = Env::new();
    import_image(&env);
    let volumes = VolumeStore::open(&env.config.data_root).unwrap();
    let rt = support::runtime();
    rt.block_on(async {
        let (mut c, server) = env.serve(PeerPolicy { group: None }).await;
        // Image defaults: command, working dir, env merged (the request wins by key).
        let (first, code, out) = run(&mut c, "first", image_config(&["B=mine"], None)).await;
        assert_eq!((code, out.as_str()), (0, "image mine /srv\n"));
        let listed = c.list(true, vec!["ancestor=bb:1".into()]).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].image, "bb:1");
        assert!(listed[0].image_id.starts_with("sha256:"), "{:?}", listed[0]);
        // The named volume was created on first use with the image's content copied in; the
        // image's VOLUME got an anonymous volume.
        let data = volumes.inspect("data").unwrap();
        assert!(!data.anonymous && data.labels.is_empty());
        assert_eq!(
            std::fs::read_to_string(data.mountpoint.join("hello.txt")).unwrap(),
            "from the image\n"
        );
        let anonymous: Vec<_> = volumes
            .list()
            .unwrap()
            .into_iter()
            .filter(|v| v.anonymous)
            .collect();
        assert_eq!(anonymous.len(), 1, "{anonymous:?}");
        // A command override writes into the volume; rm without -v keeps the anonymous volume.
        let (second, code, _) = run(
            &mut c,
            "second",
            image_config(&[], Some("echo kept > /seed/new; touch /anon/x")),
        )
        .await;
        assert_eq!(code, 0);
        let err = volumes.remove("data", &|n| {
            !env.node().containers_using_volume(n).is_empty()
        });
        assert_eq!(
            err.unwrap_err().to_string(),
            "remove data: volume is in use"
        );
        c.remove(&first, false).await.unwrap();
        assert_eq!(volumes.list().unwrap().len(), 3, "named + two anonymous");
        c.remove_with_volumes(&second, false, true).await.unwrap();
        assert_eq!(
            volumes.list().unwrap().len(),
            2,
            "rm -v removes only its own anonymous volume"
        );
        assert!(
            volumes.inspect("data").is_ok(),
            "named volumes survive rm -v"
        );
        assert!(
            mounts_under(&env.config.data_root).is_empty(),
            "{:?}",
            mounts_under(&env.config.data_root)
        );
        server.shutdown().await.unwrap();
        // A new agent over the same roots sees the data.
        let (mut c, server) = env.serve(PeerPolicy { group: None }).await;
        let (_, code, out) = run(&mut c, "third", image_config(&[], Some("cat /seed/new"))).await;
        assert_eq!((code, out.as_str()), (0, "kept\n"));
        let err = c
            .create(CreateRequest {
                name: "missing".into(),
                config: Some(ContainerConfig {
                    image: "nothere:1".into(),
                    ..Default::default()
                }),
                auto_remove: false,
            })
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("image nothere:1 not found"),
            "{err}"
        );
        server.shutdown().await.unwrap();
    });
    Ok::<(), Failed>(())
}

/// An HTTP GET of `/` on `port` of 127.0.0.1.
fn http_get(port: u32) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        match TcpStream::connect(("127.0.0.1", port as u16)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.contains("200") {
                    return out;
                }
                last = out;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

fn net_config(env: &Env, mode: &str, script: &str) -> ContainerConfig {
    ContainerConfig {
        network_mode: mode.into(),
        ..env.config(script)
    }
}

fn networks_ports_and_modes() -> TestResult {
    let _net = support::net_lock();
    let env = Env::new();
    let node = env.node();
    node.prepare_networks().unwrap();
    let networks = Networks::new(&env.config.data_root).unwrap();
    let net = networks
        .create(&CreateNetwork {
            name: "appnet".into(),
            ..Default::default()
        })
        .unwrap();
    let rt = support::runtime();
    rt.block_on(async {
        let (mut c, server) = env.serve(PeerPolicy { group: None }).await;
        let serve_script = "mkdir -p /www && echo hello-from-srv > /www/index.html && exec httpd -f -p 80 -h /www";
        let srv = c
            .create(CreateRequest {
                name: "srv".into(),
                config: Some(ContainerConfig {
                    ports: vec![PortBinding {
                        host_ip: "127.0.0.1".into(),
                        container_port: 80,
                        ..Default::default()
                    }],
                    networks: vec![NetworkAttachment {
                        network: "appnet".into(),
                        aliases: vec!["web".into()],
                        ..Default::default()
                    }],
                    ..net_config(&env, "appnet", serve_script)
                }),
                auto_remove: false,
            })
            .await
            .unwrap()
            .id;
        c.start(&srv).await.unwrap();
        let ports = c.port("srv").await.unwrap();
        assert_eq!(ports.len(), 1, "{ports:?}");
        assert_eq!(ports[0].container_port, 80);
        assert!(ports[0].host_port >= 1024, "{ports:?}");
        let page = http_get(ports[0].host_port);
        assert!(page.contains("hello-from-srv"), "{page}");
        let summary = c.inspect("srv").await.unwrap().summary.unwrap();
        let ip = summary.networks[0].ipv4_address.split('/').next().unwrap().to_string();
        assert!(net.subnet.contains(&ip.parse::<std::net::Ipv4Addr>().unwrap()), "{ip}");
        assert_eq!(summary.ports, ports);
        // Another container on the network reaches it by address; its /etc/hosts has its own
        // address and its resolver is the network's gateway.
        let script = format!(
            "wget -q -O - http://{ip}/ && grep -c \"$(hostname)\" /etc/hosts && grep nameserver /etc/resolv.conf"
        );
        let (_, code, out) = run(&mut c, "cli", net_config(&env, "appnet", &script)).await;
        assert_eq!(
            (code, out.as_str()),
            (0, format!("hello-from-srv\n1\nnameserver {}\n", net.gateway).as_str()),
            "its address line names it"
        );
        // container: mode shares the server's namespace.
        let (_, code, out) = run(
            &mut c,
            "sidecar",
            net_config(&env, "container:srv", "wget -q -O - http://127.0.0.1/"),
        )
        .await;
        assert_eq!((code, out.as_str()), (0, "hello-from-srv\n"));
        // none: loopback only; host: the agent's namespace.
        let (_, code, out) = run(
            &mut c,
            "isolated",
            net_config(&env, "none", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"),
        )
        .await;
        assert_eq!((code, out.as_str()), (0, "lo\n"));
        let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let (_, code, out) = run(&mut c, "hosted", net_config(&env, "host", "readlink /proc/self/ns/net")).await;
        assert_eq!((code, out.trim()), (0, own.to_str().unwrap()));
        // The same host port twice is refused before the second container runs.
        let taken = PortBinding {
            host_ip: "127.0.0.1".into(),
            host_port: ports[0].host_port,
            container_port: 80,
            ..Default::default()
        };
        let dup = c
            .create(CreateRequest {
                name: "dup".into(),
                config: Some(ContainerConfig {
                    ports: vec![taken],
                    ..net_config(&env, "appnet", "echo ran")
                }),
                auto_remove: false,
            })
            .await
            .unwrap()
            .id;
        let err = c.start(&dup).await.unwrap_err();
        assert!(err.to_string().contains("already allocated"), "{err}");
        assert_eq!(output(&mut c, &dup).await, "", "the entrypoint never ran");
        // Stopping releases the endpoint; the network can then go, and nothing of it stays.
        c.stop("srv", Some(1)).await.unwrap();
        for name in ["srv", "dup", "cli", "sidecar", "isolated", "hosted"] {
            c.remove(name, true).await.unwrap();
        }
        let rec = networks.inspect("appnet").unwrap();
        assert!(rec.endpoints.is_empty(), "{:?}", rec.endpoints);
        networks.remove("appnet").unwrap();
        let links = engine::network::link::Links::open().unwrap().list().unwrap();
        let names: Vec<String> = links.into_iter().map(|l| l.name).collect();
        assert!(!names.contains(&rec.bridge), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("bv")), "{names:?}");
        server.shutdown().await.unwrap();
    });
    Ok::<(), Failed>(())
}
