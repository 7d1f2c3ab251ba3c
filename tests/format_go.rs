//! End-to-end: values printed inside `--format`/`-f` templates as Go prints them (lists as
//! `[a b]`, maps as `map[k:v]` with sorted keys, structs as `{v1 v2}`, `<nil>`, `<no value>`),
//! and `bosun node inspect` in docker's node shape (run as root).
//!
//! The container test runs the same templates through the real docker CLI (Go's
//! `text/template`, over the Docker API the agent serves) and through `bosun container inspect`
//! on the same container, and expects the same text; it also checks the texts docker's
//! documentation shows for those fields.

#![allow(clippy::unwrap_used)]

mod docker_env;
mod image_env;
mod test_images;
mod testbed;
use testkit::teardown;

use docker_env::Docker;
use serde_json::Value;
use testbed::Bed;

#[test]
fn inspect_templates_print_lists_maps_and_structs_as_docker() {
    let d = Docker::new();
    d.env.ok("volume", &["create", "fmtdata"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "-l",
        "tier=front",
        "-l",
        "app=shop",
        "-v",
        "fmtdata:/data",
        "busybox",
        "sleep",
        "300",
    ]);
    let bosun = |template: &str| d.env.ok("container", &["inspect", "-f", template, "web"]);
    let docker = |template: &str| d.ok(&["inspect", "-f", template, "web"]);

    // What docker's Go templates print for these fields, shown by both CLIs alike.
    let templates = [
        "{{.Config.Env}}",
        "{{.Config.Labels}}",
        "{{.Config.Cmd}}",
        "{{.Args}}",
        "{{.Mounts}}",
        "{{range .Mounts}}{{.Name}} {{.RW}}{{end}}",
        "{{.State.Running}} {{.State.Pid}} {{.RestartCount}} {{.State.OOMKilled}}",
        "{{.Config.Labels.tier}} {{.Config.Labels.nope}}",
        "{{index .Config.Labels \"app\"}} {{len .Config.Env}}",
        "{{json .Config.Labels}}",
        "{{printf \"%v|%s\" .Args .Name}}",
        "{{print .Args 1 2 \"x\"}}",
        "{{println .Config.Cmd}}",
        "{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}} {{end}}",
        "{{- .Name -}}",
    ];
    for template in templates {
        assert_eq!(bosun(template), docker(template), "template {template}");
    }

    // Docker's documented forms, literally.
    let env = bosun("{{.Config.Env}}");
    assert!(
        env.starts_with('[')
            && env.contains("A=1")
            && env.contains("B=two words")
            && env.ends_with("]\n"),
        "{env}"
    );
    assert_eq!(bosun("{{.Config.Labels}}"), "map[app:shop tier:front]\n");
    assert_eq!(bosun("{{.Config.Cmd}}"), "[sleep 300]\n");
    assert_eq!(bosun("{{.Args}}"), "[300]\n");
    let mounts = bosun("{{.Mounts}}");
    assert!(
        mounts.starts_with("[{volume fmtdata ") && mounts.ends_with(" /data local  true }]\n"),
        "{mounts}"
    );
    assert_eq!(bosun("{{.Config.Labels.nope}}"), "<no value>\n");

    // A volume mount's source is where the volume is on the host, as docker shows it.
    let source = bosun("{{range .Mounts}}{{.Source}}{{end}}");
    assert_eq!(source, docker("{{range .Mounts}}{{.Source}}{{end}}"));
    let mountpoint = d
        .env
        .ok("volume", &["inspect", "-f", "{{.Mountpoint}}", "fmtdata"]);
    assert_eq!(source, mountpoint);
    assert!(source.ends_with("/volumes/fmtdata/_data\n"), "{source}");

    // Docker prints the address of each network's endpoint (a pointer); Bosun the endpoint.
    let networks = bosun("{{.NetworkSettings.Networks}}");
    assert!(networks.starts_with("map[bridge:{"), "{networks}");
    let docker_networks = docker("{{.NetworkSettings.Networks}}");
    assert!(
        docker_networks.starts_with("map[bridge:0x"),
        "{docker_networks}"
    );
    let ip = bosun("{{.NetworkSettings.Networks.bridge.IPAddress}}");
    assert!(networks.contains(ip.trim()), "{networks} lacks {ip}");

    // Listing rows print the same through both.
    let ls = "{{.Names}}|{{.Image}}|{{.State}}|{{.Mounts}}|{{.Networks}}";
    assert_eq!(
        d.env.ok("container", &["ls", "--format", ls]),
        d.ok(&["ps", "--format", ls])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_inspect_in_dockers_shape() {
    let bed = Bed::cluster(testbed::bin(), 1);
    let id = bed.node_id(0);
    bed.bosun_ok(
        0,
        &[
            "node",
            "update",
            "--label-add",
            "zone=a",
            "--label-add",
            "disk=ssd",
            &id,
        ],
    );

    let (out, _) = bed.bosun_ok(0, &["node", "inspect", &id]);
    let docs: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
    let doc = &docs[0];
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "ID",
            "Version",
            "CreatedAt",
            "UpdatedAt",
            "Spec",
            "Description",
            "Status",
            "ManagerStatus"
        ],
        "{doc}"
    );
    assert_eq!(doc["ID"], id.as_str());
    assert!(doc["Version"]["Index"].as_u64().unwrap() > 0, "{doc}");
    assert!(doc["CreatedAt"].as_str().unwrap().ends_with('Z'), "{doc}");
    assert_eq!(
        doc["Spec"],
        serde_json::json!({"Labels": {"disk": "ssd", "zone": "a"}, "Role": "manager", "Availability": "active"})
    );
    assert!(
        !doc["Description"]["Hostname"].as_str().unwrap().is_empty(),
        "{doc}"
    );
    // Without a node daemon the node has not described its platform and resources yet; the
    // fields are there as docker's, empty or zero.
    assert!(doc["Description"]["Platform"]["OS"].is_string(), "{doc}");
    assert!(
        doc["Description"]["Resources"]["MemoryBytes"].is_u64(),
        "{doc}"
    );

    let template = "{{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} \
                    {{.ManagerStatus.Leader}} {{.ManagerStatus.Reachability}} {{.Spec.Labels}}";
    let (out, _) = bed.bosun_ok(0, &["node", "inspect", "-f", template, &id]);
    assert_eq!(
        out,
        "manager active ready true reachable map[disk:ssd zone:a]\n"
    );

    // The node's address, and the manager's address with its port.
    let (out, _) = bed.bosun_ok(
        0,
        &[
            "node",
            "inspect",
            "--format",
            "{{.Status.Addr}} {{.ManagerStatus.Addr}}",
            &id,
        ],
    );
    let (addr, manager_addr) = out.trim().split_once(' ').unwrap();
    assert!(addr.parse::<std::net::IpAddr>().is_ok(), "{out}");
    assert!(manager_addr.starts_with(&format!("{addr}:")), "{out}");
}
