//! `bosun image ls` and `bosun image history`.

use std::process::ExitCode;
use std::time::SystemTime;

use agent::proto::{self, images_client::ImagesClient};
use clap::Args;
use serde_json::Value;
use tonic::transport::Channel;

use super::{human_size, status_error};
use crate::cli::container::table::render;
use crate::cli::container::units::human_duration;
use crate::cli::format::{self, Format, header};

/// Arguments of `ls`.
#[derive(Debug, Args)]
pub(super) struct LsArgs {
    /// Only show images whose name matches (`name[:tag]`, globs allowed).
    pub repository: Option<String>,
    /// Show all images, dangling ones included.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output (reference=, dangling=true|false, label=key[=value], before=IMAGE,
    /// since=IMAGE).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`, or a
    /// Go template (fields as docker's: ID, Repository, Tag, Digest, CreatedAt, CreatedSince,
    /// Size, Containers).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.trim_start_matches("sha256:").chars().take(12).collect()
    }
}

/// Splits a familiar `name:tag` into its parts (the colon of a registry port is not a tag).
fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "<none>"),
    }
}

/// Runs `image ls`.
pub(super) async fn ls(
    client: &mut ImagesClient<Channel>,
    args: LsArgs,
) -> anyhow::Result<ExitCode> {
    let mut filters = args.filters.clone();
    if let Some(repo) = &args.repository {
        filters.push(format!("reference={repo}"));
    }
    let format = Format::parse(&args.format)?;
    let images = client
        .list(proto::ImageListRequest {
            all: args.all,
            filters,
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .images;
    if args.quiet {
        for image in &images {
            println!("{}", short(&image.id, args.no_trunc));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Row> = images.iter().flat_map(Row::of).collect();
    let now = SystemTime::now();
    let objects: Vec<Value> = rows.iter().map(|r| r.json(args.no_trunc, now)).collect();
    if let Some(text) = format.rows(&objects, header::IMAGE)? {
        format::print(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.repository.to_string(), r.tag.to_string()];
            if args.digests {
                row.push(r.digest.clone());
            }
            row.push(short(&r.image.id, args.no_trunc));
            row.push(r.created_since(now));
            row.push(human_size(r.image.size));
            row
        })
        .collect();
    let mut headers = vec!["REPOSITORY", "TAG"];
    if args.digests {
        headers.push("DIGEST");
    }
    headers.extend(["IMAGE ID", "CREATED", "SIZE"]);
    format::print(&render(&headers, &rows))?;
    Ok(ExitCode::SUCCESS)
}

/// One line of `image ls`: an image under one of its tags (or `<none>`).
struct Row<'a> {
    image: &'a proto::ImageSummary,
    repository: &'a str,
    tag: &'a str,
    digest: String,
}

impl<'a> Row<'a> {
    /// The lines of `image`: one per tag.
    fn of(image: &'a proto::ImageSummary) -> Vec<Row<'a>> {
        let digest = image
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map_or("<none>".to_string(), |(_, d)| d.to_string());
        let tags: Vec<(&str, &str)> = if image.repo_tags.is_empty() {
            vec![("<none>", "<none>")]
        } else {
            image.repo_tags.iter().map(|t| split_tag(t)).collect()
        };
        tags.into_iter()
            .map(|(repository, tag)| Row {
                image,
                repository,
                tag,
                digest: digest.clone(),
            })
            .collect()
    }

    fn created(&self) -> String {
        if self.image.created.is_empty() {
            "N/A".to_string()
        } else {
            self.image.created.clone()
        }
    }

    /// `2 weeks ago`, as docker's CREATED column and `CreatedSince` (`N/A` without a time).
    fn created_since(&self, now: SystemTime) -> String {
        humantime::parse_rfc3339_weak(&self.image.created)
            .map(|t| {
                format!(
                    "{} ago",
                    human_duration(now.duration_since(t).unwrap_or_default())
                )
            })
            .unwrap_or_else(|_| "N/A".to_string())
    }

    /// The line as docker's `images --format` sees it (and `--format json` prints it).
    fn json(&self, no_trunc: bool, now: SystemTime) -> Value {
        serde_json::json!({
            "Containers": self.image.containers.to_string(),
            "CreatedAt": self.created(),
            "CreatedSince": self.created_since(now),
            "Digest": self.digest,
            "ID": short(&self.image.id, no_trunc),
            "Repository": self.repository,
            "SharedSize": "N/A",
            "Size": human_size(self.image.size),
            "Tag": self.tag,
            "UniqueSize": "N/A",
            "VirtualSize": human_size(self.image.size),
        })
    }
}

/// Arguments of `history`.
#[derive(Debug, Args)]
pub(super) struct HistoryArgs {
    /// The image.
    pub image: String,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: table or json (one object per line).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

/// Runs `image history`.
pub(super) async fn history(
    client: &mut ImagesClient<Channel>,
    args: HistoryArgs,
) -> anyhow::Result<ExitCode> {
    let json = client
        .history(proto::ImageRef { image: args.image })
        .await
        .map_err(status_error)?
        .into_inner()
        .json;
    let rows: Vec<Value> = serde_json::from_str(&json)?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if args.format == "json" {
        for row in &rows {
            println!("{row}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.quiet {
        for row in &rows {
            let id = text(row, "Id");
            println!(
                "{}",
                if id == "<missing>" {
                    id
                } else {
                    short(&id, args.no_trunc)
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let id = text(row, "Id");
            let mut created_by = text(row, "CreatedBy");
            if !args.no_trunc && created_by.chars().count() > 45 {
                created_by = created_by.chars().take(44).collect::<String>() + "…";
            }
            vec![
                if id == "<missing>" {
                    id
                } else {
                    short(&id, args.no_trunc)
                },
                text(row, "Created"),
                created_by,
                human_size(row.get("Size").and_then(Value::as_u64).unwrap_or(0)),
                text(row, "Comment"),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &table
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_tag_table() {
        for (input, name, tag) in [
            ("redis:7", "redis", "7"),
            ("localhost:5000/app:1", "localhost:5000/app", "1"),
            ("localhost:5000/app", "localhost:5000/app", "<none>"),
        ] {
            assert_eq!(split_tag(input), (name, tag), "{input}");
        }
        assert_eq!(short("sha256:0123456789abcdef", false), "0123456789ab");
    }

    #[test]
    fn created_since_reads_like_docker() {
        let image = proto::ImageSummary {
            created: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        let row = &Row::of(&image)[0];
        let now = humantime::parse_rfc3339("2026-01-15T00:00:00Z").expect("a time");
        assert_eq!(row.created_since(now), "2 weeks ago");
        assert_eq!(row.json(false, now)["CreatedAt"], "2026-01-01T00:00:00Z");
        let undated = proto::ImageSummary::default();
        assert_eq!(Row::of(&undated)[0].created_since(now), "N/A");
    }
}
