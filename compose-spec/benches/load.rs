//! Load benchmark: `loader::load` followed by `render::to_yaml` on generated projects of 1, 50
//! and 500 services.
//!
//! Each project is written to a temporary directory when the benchmark starts and uses what
//! makes real projects slow to load: `extends` from a base file, YAML anchors and `<<` merge
//! keys, interpolation from `.env` with `${VAR:-default}`, several networks and volumes,
//! published ports, healthchecks and `depends_on` chains. The 500-service figure is compared
//! with the target of 100 ms in docs/benchmarks.md.
//!
//! Run with `cargo bench -p compose-spec --bench load`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use compose_spec::discovery::ProjectOptions;
use compose_spec::env::Environment;
use compose_spec::loader::{self, LoadOptions};
use compose_spec::render;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const NETWORKS: usize = 4;
const VOLUMES: usize = 5;

const BASE: &str = "\
services:
  web:
    image: nginx:${NGINX_TAG:-1.25}
    command: [\"nginx\", \"-g\", \"daemon off;\"]
    environment:
      - MODE=web
      - WORKERS=${WORKERS:-4}
    healthcheck:
      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost/health\"]
      interval: 30s
      timeout: 5s
      retries: 3
      start_period: 10s
    volumes:
      - ./static:/usr/share/nginx/html:ro
  worker:
    image: python:${PYTHON_TAG:-3.12}-slim
    command: python -m worker --queue default
    environment:
      MODE: worker
      CONCURRENCY: ${CONCURRENCY:-8}
    healthcheck:
      test: [\"CMD-SHELL\", \"pgrep -f worker\"]
      interval: 1m
    deploy:
      resources:
        limits:
          cpus: \"0.50\"
          memory: 256M
";

/// The main compose file of a project with `services` services.
fn compose_file(services: usize) -> String {
    let mut out = String::from(
        "name: bench\n\
         x-defaults: &defaults\n  \
           restart: unless-stopped\n  \
           labels:\n    com.example.stack: bench\n    com.example.owner: ${OWNER:-platform}\n  \
           logging:\n    driver: json-file\n    options:\n      max-size: 10m\n      max-file: \"3\"\n\
         x-limits: &limits\n  \
           ulimits:\n    nofile:\n      soft: 20000\n      hard: 40000\n\
         services:\n",
    );
    for i in 0..services {
        let base = if i % 2 == 0 { "web" } else { "worker" };
        writeln!(out, "  svc{i}:").unwrap();
        writeln!(out, "    <<: [*defaults, *limits]").unwrap();
        writeln!(
            out,
            "    extends:\n      file: base.yaml\n      service: {base}"
        )
        .unwrap();
        writeln!(
            out,
            "    image: registry.example.com/team/svc{i}:${{TAG:-latest}}"
        )
        .unwrap();
        writeln!(
            out,
            "    environment:\n      SERVICE_INDEX: \"{i}\"\n      LOG_LEVEL: ${{LOG_LEVEL:-info}}\n      DATABASE_URL: postgres://${{DB_USER:-app}}@db{}:5432/app",
            i % 3
        )
        .unwrap();
        writeln!(
            out,
            "    ports:\n      - \"${{BIND_ADDRESS:-127.0.0.1}}:{}:8080\"\n      - target: 9090\n        published: \"{}\"\n        protocol: tcp",
            20_000 + i,
            40_000 + i
        )
        .unwrap();
        writeln!(
            out,
            "    volumes:\n      - vol{}:/data\n      - type: bind\n        source: ./conf/svc{i}\n        target: /etc/app\n        read_only: true",
            i % VOLUMES
        )
        .unwrap();
        writeln!(
            out,
            "    networks:\n      net{}:\n        aliases: [svc{i}-alias]\n      net{}: {{}}",
            i % NETWORKS,
            (i + 1) % NETWORKS
        )
        .unwrap();
        if i % 10 != 0 {
            writeln!(
                out,
                "    depends_on:\n      svc{}:\n        condition: service_healthy",
                i - 1
            )
            .unwrap();
        }
    }
    out.push_str("networks:\n");
    for n in 0..NETWORKS {
        writeln!(
            out,
            "  net{n}:\n    driver: bridge\n    labels: [\"tier={n}\"]"
        )
        .unwrap();
    }
    out.push_str("volumes:\n");
    for v in 0..VOLUMES {
        writeln!(out, "  vol{v}:\n    driver: local").unwrap();
    }
    out
}

/// Writes a project of `services` services into `dir`.
fn write_project(dir: &Path, services: usize) {
    std::fs::write(dir.join("base.yaml"), BASE).unwrap();
    std::fs::write(
        dir.join(".env"),
        "TAG=2.4.1\nLOG_LEVEL=debug\nOWNER=\"payments team\"\nexport DB_USER=bench\n",
    )
    .unwrap();
    std::fs::write(dir.join("compose.yaml"), compose_file(services)).unwrap();
}

fn options(dir: &Path) -> LoadOptions {
    LoadOptions {
        project: ProjectOptions {
            files: vec![dir.join("compose.yaml")],
            working_dir: dir.to_path_buf(),
            environment: [("HOME", "/home/bench")]
                .into_iter()
                .collect::<Environment>(),
            ..Default::default()
        },
        interpolate: true,
        ..Default::default()
    }
}

fn load_and_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_and_render");
    for services in [1usize, 50, 500] {
        let dir = tempfile::tempdir().unwrap();
        write_project(dir.path(), services);
        let options = options(dir.path());
        let loaded = loader::load(&options).unwrap();
        assert_eq!(loaded.project.services.len(), services);
        group.bench_with_input(BenchmarkId::from_parameter(services), &options, |b, o| {
            b.iter(|| {
                let loaded = loader::load(black_box(o)).unwrap();
                black_box(render::to_yaml(&loaded.project, loaded.dollars).unwrap())
            });
        });
    }
    group.finish();
}

/// The 500-service project split in its two halves, to see which one dominates.
fn stages(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), 500);
    let options = options(dir.path());
    let mut group = c.benchmark_group("stages_500");
    group.bench_function("load", |b| {
        b.iter(|| black_box(loader::load(black_box(&options)).unwrap()));
    });
    let loaded = loader::load(&options).unwrap();
    group.bench_function("to_yaml", |b| {
        b.iter(|| black_box(render::to_yaml(black_box(&loaded.project), loaded.dollars).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, load_and_render, stages);
criterion_main!(benches);
