//! A minimal driver of the builder without the `bosun` CLI, for benchmarks
//! (bench/image_build.sh): imports a tar as an image or builds a context, on the engine with
//! the data root, run root and cgroup parent given.
//!
//! ```text
//! build_image --data-root D --run-root R [--cgroup-parent P] --import TAR REF
//! build_image --data-root D --run-root R [--cgroup-parent P] [--no-cache] [-q] [-t TAG]
//!             [--repeat N [--change FILE]] CONTEXT
//! ```
//!
//! With `--repeat N` the build runs N times in this one process (as in a long-lived agent)
//! and the median time is printed (`median_ms=…`); `--change FILE` writes new content to FILE
//! before each of them.

use std::path::PathBuf;
use std::process::ExitCode;

use builder::{BuildOptions, Builder, Event};
use engine::image::{ImportOptions, ImportSource};
use engine::{Runtime, RuntimeConfig};

fn main() -> ExitCode {
    if let Some(code) = engine::entry::dispatch_from_env() {
        std::process::exit(code);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut data_root, mut run_root, mut parent) = (None, None, None);
    let (mut import, mut options, mut quiet) = (None, BuildOptions::default(), false);
    let mut context = None;
    let (mut repeat, mut change) = (0usize, None::<PathBuf>);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--data-root" => data_root = Some(PathBuf::from(value(&arg)?)),
            "--run-root" => run_root = Some(PathBuf::from(value(&arg)?)),
            "--cgroup-parent" => parent = Some(value(&arg)?),
            "--import" => {
                let tar = value(&arg)?;
                import = Some((tar, value("--import")?));
            }
            "--no-cache" => options.no_cache = true,
            "-q" => quiet = true,
            "-t" => options.tags.push(value(&arg)?),
            "--repeat" => {
                repeat = value(&arg)?
                    .parse()
                    .map_err(|_| "--repeat needs a number".to_string())?
            }
            "--change" => change = Some(PathBuf::from(value(&arg)?)),
            other if !other.starts_with('-') => context = Some(PathBuf::from(other)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let data_root = data_root.ok_or("--data-root is required")?;
    let run_root = run_root.ok_or("--run-root is required")?;
    let mut config = RuntimeConfig::new(&data_root, &run_root).map_err(|e| e.to_string())?;
    if let Some(p) = parent {
        config.cgroup_parent = p;
    }
    let runtime = Runtime::new(config).map_err(|e| e.to_string())?;
    if let Some((tar, reference)) = import {
        let mut file = std::fs::File::open(&tar).map_err(|e| format!("{tar}: {e}"))?;
        let options = ImportOptions {
            reference: Some(reference),
            ..ImportOptions::default()
        };
        let image = runtime
            .images()
            .import(ImportSource::Tar(&mut file), &options)
            .map_err(|e| e.to_string())?;
        println!("{}", image.id);
        return Ok(());
    }
    options.context = context.ok_or("a build context is required")?;
    let builder = Builder::new(runtime).map_err(|e| e.to_string())?;
    if repeat > 0 {
        let mut times = Vec::with_capacity(repeat);
        for n in 0..repeat {
            if let Some(file) = &change {
                let stamp = format!("{n} {:?}\n", std::time::SystemTime::now());
                std::fs::write(file, stamp).map_err(|e| format!("{}: {e}", file.display()))?;
            }
            let started = std::time::Instant::now();
            builder
                .build(&options, &mut |_| {})
                .map_err(|e| e.to_string())?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "median_ms={:.1} min_ms={:.1}",
            times[times.len() / 2],
            times[0]
        );
        return Ok(());
    }
    let built = builder
        .build(&options, &mut |event| {
            if quiet {
                return;
            }
            match event {
                Event::Started(step) => eprintln!("{step}"),
                Event::Cached(_) => eprintln!("CACHED"),
                Event::Finished { elapsed, .. } => eprintln!("DONE {:.3}s", elapsed.as_secs_f64()),
                Event::Output { line, .. } => eprint!("{line}"),
                Event::Written { id, .. } => eprintln!("writing image {id}"),
            }
        })
        .map_err(|e| e.to_string())?;
    println!("{}", built.image.id);
    Ok(())
}
