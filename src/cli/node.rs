//! `bosun node …`: list, inspect, demote, promote, update and remove cluster nodes, list the
//! tasks on a node; and the table of `bosun cluster status`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use cluster_manager::Manager;
use cluster_manager::ManagerClient;
use cluster_manager::services::proto;
use cluster_state::{Node, NodeRole, Record};

use super::cluster::{DataRootArg, runtime};
use super::format::{self, Format, header};

/// Arguments of `bosun node`.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    root: DataRootArg,
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// List the nodes.
    Ls {
        /// Only display node IDs.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`, or
        /// a Go template (fields as docker's: ID, Self, Hostname, Status, Availability,
        /// ManagerStatus).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show a node in docker's shape (ID, Version, CreatedAt, UpdatedAt, Spec, Description,
    /// Status, ManagerStatus).
    Inspect {
        /// Node id, id prefix or hostname.
        node: String,
        /// Format output: `json` (one object per line) or a Go template such as
        /// '{{.Status.Addr}}' or '{{.ManagerStatus.Leader}}' (default: the indented JSON array).
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
    /// Make a worker a manager.
    ///
    /// The worker's daemon takes the manager role in place: it gets a manager certificate and
    /// a new raft id, the leader adds it to the managers, and its raft state fills from the
    /// leader's snapshot. Waits until the node is a manager. A worker that is down is
    /// refused; one that stops reporting midway stays marked and completes the promotion
    /// when its daemon reports back (`bosun node demote` cancels it).
    Promote {
        /// Node id, id prefix or hostname.
        node: String,
    },
    /// Make a manager a worker (refused if quorum would be lost or it is the last manager).
    Demote {
        /// Node id, id prefix or hostname.
        node: String,
    },
    /// List the tasks on a node (this node by default).
    Ps {
        /// Node id, id prefix or hostname.
        node: Option<String>,
        /// Filter: desired-state=running|shutdown.
        #[arg(short = 'f', long = "filter")]
        filter: Vec<String>,
        #[command(flatten)]
        output: super::service::ps::TaskOutput,
    },
    /// Change a node's availability or labels.
    Update {
        /// active (takes tasks), pause (takes no new tasks) or drain (its tasks move away).
        #[arg(long, value_parser = ["active", "pause", "drain"])]
        availability: Option<String>,
        /// Add or change a label (KEY=VALUE).
        #[arg(long)]
        label_add: Vec<String>,
        /// Remove a label.
        #[arg(long)]
        label_rm: Vec<String>,
        /// Node id, id prefix or hostname.
        node: String,
    },
    /// Remove a node from the cluster (a worker once it is down, as `node ls` shows).
    Rm {
        /// Remove a manager, or a worker that is not down, too.
        #[arg(long)]
        force: bool,
        /// Node id, id prefix or hostname.
        node: String,
    },
}

/// How long `node promote` waits for the node to take the manager role.
const PROMOTE_WAIT: Duration = Duration::from_secs(30);

/// Waits until the node named `name` is a raft voter that the managers hear from (it has
/// stored its manager identity and runs raft); its raft id, or `None` after [`PROMOTE_WAIT`].
async fn wait_promoted(client: &ManagerClient, name: &str) -> anyhow::Result<Option<u64>> {
    let deadline = Instant::now() + PROMOTE_WAIT;
    while Instant::now() < deadline {
        let (data, _) = client.read("kind:node").await?;
        let raft_id = nodes(&data)?
            .into_iter()
            .find(|n| n.meta.id == name || n.meta.id.starts_with(name) || n.hostname == name)
            .and_then(|n| n.raft_id);
        if let Some(raft_id) = raft_id {
            let status = client.status().await?;
            // Reachable: the leader hears from it, so it runs raft with its new identity.
            if status
                .members
                .iter()
                .any(|m| m.raft_id == raft_id && m.reachable)
            {
                return Ok(Some(raft_id));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(None)
}

fn nodes(data: &[u8]) -> anyhow::Result<Vec<Node>> {
    let records: Vec<Record> = serde_json::from_slice(data).context("cannot decode the nodes")?;
    Ok(records
        .into_iter()
        .filter_map(|r| match r {
            Record::Node(node) => Some(node),
            _ => None,
        })
        .collect())
}

/// Runs `bosun node`.
pub(super) fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let manager = Manager::open(&args.root.data_root)?;
    let rt = runtime()?;
    let _context = rt.enter();
    let client = manager.client()?;
    match args.command {
        NodeCommand::Ls { quiet, format } => {
            let format = Format::parse(&format)?;
            let (data, _) = rt.block_on(client.read("kind:node"))?;
            let status = rt.block_on(client.status())?;
            let nodes = nodes(&data)?;
            if quiet {
                let ids: String = nodes.iter().map(|n| format!("{}\n", n.meta.id)).collect();
                format::print(&ids)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<serde_json::Value> = nodes
                .iter()
                .map(|node| {
                    let member = status
                        .members
                        .iter()
                        .find(|m| Some(m.raft_id) == node.raft_id);
                    let manager_status = match member {
                        Some(m) if m.leader => "Leader",
                        Some(m) if m.reachable => "Reachable",
                        Some(_) => "Unreachable",
                        None if node.desired_role == Some(NodeRole::Manager) => "Promoting",
                        None => "",
                    };
                    serde_json::json!({
                        "Availability": format!("{:?}", node.availability),
                        "Hostname": node.hostname,
                        "ID": node.meta.id,
                        "ManagerStatus": manager_status,
                        "Self": node.meta.id == manager.state().node_id,
                        "Status": format!("{:?}", node.state),
                    })
                })
                .collect();
            if let Some(text) = format.rows(&rows, header::PLAIN)? {
                format::print(&text)?;
                return Ok(ExitCode::SUCCESS);
            }
            let text = |row: &serde_json::Value, key: &str| {
                row[key].as_str().unwrap_or_default().to_string()
            };
            let mut table = format!(
                "{:<26}{:<20}{:<8}{:<14}MANAGER STATUS\n",
                "ID", "HOSTNAME", "STATUS", "AVAILABILITY"
            );
            for row in &rows {
                let marker = if row["Self"] == true { " *" } else { "" };
                table.push_str(&format!(
                    "{:<26}{:<20}{:<8}{:<14}{}\n",
                    format!("{}{marker}", text(row, "ID")),
                    text(row, "Hostname"),
                    text(row, "Status"),
                    text(row, "Availability"),
                    text(row, "ManagerStatus"),
                ));
            }
            format::print(&table)?;
        }
        NodeCommand::Inspect { node, format } => {
            let format = Format::parse_inspect(format.as_deref())?;
            let (data, _) = rt.block_on(client.read("kind:node"))?;
            let found = nodes(&data)?
                .into_iter()
                .filter(|n| n.meta.id.starts_with(&node) || n.hostname == node)
                .collect::<Vec<_>>();
            if found.is_empty() {
                anyhow::bail!("node {node} not found");
            }
            let members = rt.block_on(super::node_inspect::members(&client))?;
            let docs: Vec<serde_json::Value> = found
                .iter()
                .map(|node| super::node_inspect::document(node, &members))
                .collect();
            format::print(&format.objects(&docs)?)?;
        }
        NodeCommand::Promote { node } => {
            rt.block_on(client.change_role(&node, "manager"))?;
            match rt.block_on(wait_promoted(&client, &node))? {
                Some(raft_id) => println!("Node {node} promoted to a manager (raft id {raft_id})."),
                None => anyhow::bail!(
                    "node {node} is marked for promotion but has not taken the manager role within {} s; it will when its daemon reports back (`bosun node ls` shows it as Promoting; `bosun node demote {node}` cancels)",
                    PROMOTE_WAIT.as_secs()
                ),
            }
        }
        NodeCommand::Ps {
            node,
            filter,
            output,
        } => {
            let request = super::service::task_filter(
                &filter,
                proto::ListTasksRequest {
                    node: node.unwrap_or_else(|| manager.state().node_id.clone()),
                    ..Default::default()
                },
            )?;
            let list = rt.block_on(manager.services_client()?.tasks(request))?;
            super::service::ps::print(&list, &output)?;
        }
        NodeCommand::Update {
            availability,
            label_add,
            label_rm,
            node,
        } => {
            let availability = match availability.as_deref() {
                Some("active") => proto::AvailabilityChange::AvailabilityActive,
                Some("pause") => proto::AvailabilityChange::AvailabilityPause,
                Some("drain") => proto::AvailabilityChange::AvailabilityDrain,
                _ => proto::AvailabilityChange::AvailabilityUnchanged,
            };
            let request = proto::UpdateNodeRequest {
                node: node.clone(),
                availability: availability as i32,
                label_add,
                label_rm,
            };
            rt.block_on(manager.services_client()?.update_node(request))?;
            println!("{node}");
        }
        NodeCommand::Demote { node } => {
            rt.block_on(client.change_role(&node, "worker"))?;
            println!("Manager {node} demoted in the cluster.");
        }
        NodeCommand::Rm { force, node } => {
            rt.block_on(client.remove_node(&node, force))?;
            println!("{node}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints `bosun cluster status`.
pub(super) fn print_status(data_root: &Path, format: &str) -> anyhow::Result<ExitCode> {
    let manager = Manager::open(data_root)?;
    let rt = runtime()?;
    let _context = rt.enter();
    let client = manager.client()?;
    let status = rt.block_on(client.status())?;
    if format == "json" {
        let members: Vec<serde_json::Value> = status
            .members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "raft_id": m.raft_id, "node_id": m.node_id, "addr": m.addr,
                    "reachable": m.reachable, "leader": m.leader,
                })
            })
            .collect();
        let value = serde_json::json!({
            "raft_id": status.raft_id, "leader": status.leader, "term": status.term,
            "commit": status.commit, "applied": status.applied, "quorum": status.quorum,
            "tolerates": status.tolerates, "state_hash": status.state_hash,
            "quorum_error": status.quorum_error, "members": members,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let managers = status.members.len();
    let reachable = status.members.iter().filter(|m| m.reachable).count();
    println!("Managers:  {managers} ({reachable} reachable)");
    match status.leader {
        0 => println!("Leader:    none"),
        leader => println!("Leader:    raft id {leader}"),
    }
    println!(
        "Term:      {}\nCommit:    {}\nApplied:   {}",
        status.term, status.commit, status.applied
    );
    println!(
        "Quorum:    {} of {managers}; tolerates {} more failure(s)",
        status.quorum, status.tolerates
    );
    if !status.quorum_error.is_empty() {
        println!("Warning:   {}", status.quorum_error);
    }
    println!("\n{:<9}{:<26}{:<24}STATUS", "RAFT ID", "NODE ID", "ADDRESS");
    for member in &status.members {
        let state = match (member.leader, member.reachable) {
            (true, _) => "Leader",
            (false, true) => "Reachable",
            (false, false) => "Unreachable",
        };
        println!(
            "{:<9}{:<26}{:<24}{}",
            member.raft_id, member.node_id, member.addr, state
        );
    }
    Ok(ExitCode::SUCCESS)
}
