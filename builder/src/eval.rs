//! The instructions that only change the image config (ENV, ARG, LABEL, WORKDIR, USER,
//! EXPOSE, VOLUME, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER), and
//! the variables an instruction sees: the stage's ARGs with values, overridden by its ENV.
//! Each expansion uses the values from before the instruction.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{Healthcheck, ImageConfig};
use crate::error::{BuildError, Result};
use crate::lex::Lexer;
use crate::parse::{CommandForm, Flag, HealthDef, Instruction};
use crate::platform::{PROXY_ARGS, platform_args};

/// The default SHELL.
pub(crate) fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// The build arguments of one stage.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The global ARGs (before the first FROM) with their values.
    pub meta: Vec<(String, String)>,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// The ARGs declared in this stage so far, with their values.
    pub args: Vec<(String, Option<String>)>,
    /// Whether CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
}

impl Scope {
    /// A stage's scope.
    pub(crate) fn new(meta: Vec<(String, String)>, build_args: BTreeMap<String, String>) -> Self {
        Self {
            meta,
            build_args,
            args: Vec::new(),
            cmd_set: false,
        }
    }

    /// The variables for expansions: declared ARGs with values, then the ENV (which wins).
    pub(crate) fn vars(&self, config: &ImageConfig) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        out.extend(config.env());
        out
    }

    /// The environment of a RUN: the image's ENV, then the declared ARGs with values and the
    /// proxy build arguments that the ENV does not set.
    pub(crate) fn run_env(&self, config: &ImageConfig) -> Vec<String> {
        let env = config.env();
        let mut out: Vec<String> = config.config.env.clone().unwrap_or_default();
        let add = |k: &str, v: &str, out: &mut Vec<String>| {
            let taken = env.iter().any(|(e, _)| e == k)
                || out
                    .iter()
                    .any(|e| e.split_once('=').is_some_and(|(n, _)| n == k));
            if !taken {
                out.push(format!("{k}={v}"));
            }
        };
        for (k, v) in &self.args {
            if let Some(v) = v {
                add(k, v, &mut out);
            }
        }
        for name in PROXY_ARGS {
            if let Some(v) = self.build_args.get(name) {
                add(name, v, &mut out);
            }
        }
        out
    }

    /// Declares an ARG: a `--build-arg` value wins over the default (expanded), which wins
    /// over a global ARG of the same name and a platform argument.
    fn declare(&mut self, name: &str, default: Option<String>) {
        let value = self
            .build_args
            .get(name)
            .cloned()
            .or(default)
            .or_else(|| {
                self.meta
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| {
                platform_args()
                    .into_iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v)
            });
        self.args.retain(|(k, _)| k != name);
        self.args.push((name.to_string(), value));
    }
}

/// The values of the global ARGs: platform arguments first, then each ARG before the first
/// FROM (a `--build-arg` wins over its default, which may use the ARGs before it).
pub(crate) fn meta_args(
    lexer: &Lexer,
    global: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let mut out = platform_args();
    for (name, default) in global {
        let value = match (build_args.get(name), default) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(d)) => Some(lexer.word(d, &out)?),
            (None, None) => None,
        };
        out.retain(|(k, _)| k != name);
        if let Some(v) = value {
            out.push((name.clone(), v));
        }
    }
    Ok(out)
}

/// A command's argv: the exec form as written, the shell form through `shell`.
pub(crate) fn argv(command: &CommandForm, shell: &[String]) -> Vec<String> {
    match command {
        CommandForm::Exec(v) => v.clone(),
        CommandForm::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

/// A Go-style duration (`30s`, `1m30s`, `500ms`, `2h`) in nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64> {
    let bad = || BuildError::Invalid(format!("invalid duration {text:?}"));
    if text == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Ok(total as u64)
}

fn flag_map(flags: &[Flag], allowed: &[&str], keyword: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for f in flags {
        if !allowed.contains(&f.name.as_str()) {
            return Err(BuildError::Invalid(format!(
                "unknown flag --{} for {keyword}",
                f.name
            )));
        }
        out.insert(f.name.clone(), f.value.clone().unwrap_or_default());
    }
    Ok(out)
}

/// Expands `80`, `53/udp` and `8000-8002/tcp` into `port/proto` entries.
fn ports(word: &str) -> Result<Vec<String>> {
    let (range, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(BuildError::Invalid(format!("invalid protocol in {word:?}")));
    }
    let bad = || BuildError::Invalid(format!("invalid port {word:?}"));
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = range.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Applies a config-only instruction; returns its definition for the cache key.
pub(crate) fn apply(
    kind: &Instruction,
    config: &mut ImageConfig,
    scope: &mut Scope,
    lexer: &Lexer,
) -> Result<String> {
    let vars = scope.vars(config);
    let word = |t: &str| lexer.word(t, &vars);
    let c = &mut config.config;
    let definition = match kind {
        Instruction::Arg(pairs) => {
            let mut def = Vec::new();
            for (name, default) in pairs {
                let default = default.as_deref().map(word).transpose()?;
                scope.declare(name, default);
                def.push(name.clone());
            }
            format!("ARG {}", def.join(" "))
        }
        Instruction::Env(pairs) => {
            let expanded = pairs
                .iter()
                .map(|(k, v)| Ok((word(k)?, word(v)?)))
                .collect::<Result<Vec<_>>>()?;
            for (k, v) in &expanded {
                config.set_env(k, v);
            }
            format!("ENV {expanded:?}")
        }
        Instruction::Label(pairs) => {
            let labels = c.labels.get_or_insert_with(BTreeMap::new);
            let mut def = Vec::new();
            for (k, v) in pairs {
                let (k, v) = (word(k)?, word(v)?);
                def.push(format!("{k}={v}"));
                labels.insert(k, v);
            }
            format!("LABEL {def:?}")
        }
        Instruction::Workdir(path) => {
            let path = word(path)?;
            let base = c.working_dir.clone().unwrap_or_else(|| "/".into());
            let joined = if path.starts_with('/') {
                path
            } else {
                format!("{base}/{path}")
            };
            let cleaned = crate::ignore::clean(&joined);
            c.working_dir = Some(cleaned.clone());
            format!("WORKDIR {cleaned}")
        }
        Instruction::User(user) => {
            let user = word(user)?;
            c.user = Some(user.clone());
            format!("USER {user}")
        }
        Instruction::Expose(words) => {
            let mut all = Vec::new();
            for w in words {
                for w in lexer.words(w, &vars)? {
                    all.extend(ports(&w)?);
                }
            }
            let map = c.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in &all {
                map.insert(p.clone(), Value::Object(Default::default()));
            }
            format!("EXPOSE {all:?}")
        }
        Instruction::Volume(paths) => {
            let mut all = Vec::new();
            for p in paths {
                let p = word(p)?;
                if p.is_empty() {
                    return Err(BuildError::Invalid(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                all.push(p);
            }
            let map = c.volumes.get_or_insert_with(BTreeMap::new);
            for p in &all {
                map.insert(p.clone(), Value::Object(Default::default()));
            }
            format!("VOLUME {all:?}")
        }
        Instruction::StopSignal(s) => {
            let s = word(s)?;
            c.stop_signal = Some(s.clone());
            format!("STOPSIGNAL {s}")
        }
        Instruction::Cmd(command) => {
            let shell = c.shell.clone().unwrap_or_else(default_shell);
            let v = argv(command, &shell);
            c.cmd = Some(v.clone());
            scope.cmd_set = true;
            format!("CMD {v:?}")
        }
        Instruction::Entrypoint(command) => {
            let shell = c.shell.clone().unwrap_or_else(default_shell);
            let v = argv(command, &shell);
            c.entrypoint = Some(v.clone());
            // An ENTRYPOINT resets the CMD inherited from the base image.
            if !scope.cmd_set {
                c.cmd = None;
            }
            format!("ENTRYPOINT {v:?}")
        }
        Instruction::Shell(v) => {
            if v.is_empty() {
                return Err(BuildError::Invalid(
                    "SHELL requires the exec form with at least one argument".into(),
                ));
            }
            c.shell = Some(v.clone());
            format!("SHELL {v:?}")
        }
        Instruction::Healthcheck(def) => {
            let check = match def {
                HealthDef::None => Healthcheck {
                    test: vec!["NONE".into()],
                    ..Healthcheck::default()
                },
                HealthDef::Cmd { flags, command } => {
                    let f = flag_map(
                        flags,
                        &[
                            "interval",
                            "timeout",
                            "start-period",
                            "start-interval",
                            "retries",
                        ],
                        "HEALTHCHECK",
                    )?;
                    let d = |k: &str| {
                        f.get(k)
                            .map(|v| parse_duration(v))
                            .transpose()
                            .map(Option::unwrap_or_default)
                    };
                    let retries = match f.get("retries") {
                        Some(r) => r.parse::<u32>().map_err(|_| {
                            BuildError::Invalid(format!("--retries={r}: expected a number"))
                        })?,
                        None => 0,
                    };
                    let test = match command {
                        CommandForm::Exec(v) => {
                            let mut t = vec!["CMD".to_string()];
                            t.extend(v.iter().cloned());
                            t
                        }
                        CommandForm::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                    };
                    Healthcheck {
                        test,
                        interval: d("interval")?,
                        timeout: d("timeout")?,
                        start_period: d("start-period")?,
                        start_interval: d("start-interval")?,
                        retries,
                    }
                }
            };
            let def = format!("HEALTHCHECK {check:?}");
            c.healthcheck = Some(check);
            def
        }
        Instruction::Onbuild(trigger) => {
            c.on_build
                .get_or_insert_with(Vec::new)
                .push(trigger.clone());
            format!("ONBUILD {trigger}")
        }
        Instruction::Maintainer(name) => {
            config.author = Some(name.clone());
            format!("MAINTAINER {name}")
        }
        other => {
            return Err(BuildError::Invalid(format!(
                "{} changes the filesystem",
                other.keyword()
            )));
        }
    };
    Ok(definition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn run(text: &str, build_args: &[(&str, &str)]) -> (ImageConfig, Scope) {
        let df = parse(text).expect("parse");
        let lexer = Lexer::new(df.escape);
        let build_args: BTreeMap<String, String> = build_args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let global: Vec<(String, Option<String>)> = df
            .global_args
            .iter()
            .flat_map(|i| match &i.kind {
                Instruction::Arg(p) => p.clone(),
                _ => Vec::new(),
            })
            .collect();
        let meta = meta_args(&lexer, &global, &build_args).expect("meta");
        let mut scope = Scope::new(meta, build_args);
        let mut config = ImageConfig::scratch();
        config.config.cmd = Some(vec!["base-cmd".into()]);
        for i in &df.stages[0].instructions {
            apply(&i.kind, &mut config, &mut scope, &lexer).expect("apply");
        }
        (config, scope)
    }

    #[test]
    fn arg_and_env_interplay() {
        let (config, scope) = run(
            "ARG V=global\nFROM scratch\nARG V\nARG W=${V}-w\nENV E=$W X=$E\nENV V=env\nENV Y=$V\nARG V=late\nENV Z=$V\n",
            &[],
        );
        let env = config.env();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("E").as_deref(), Some("global-w"));
        assert_eq!(
            get("X").as_deref(),
            Some(""),
            "X sees E from before the instruction"
        );
        assert_eq!(get("Y").as_deref(), Some("env"), "ENV wins over ARG");
        assert_eq!(
            get("Z").as_deref(),
            Some("env"),
            "ENV still wins over a later ARG"
        );
        let run_env = scope.run_env(&config);
        assert!(run_env.contains(&"W=global-w".to_string()), "{run_env:?}");
        assert!(
            !run_env.iter().any(|e| e == "V=late"),
            "ENV V shadows ARG V"
        );
    }

    #[test]
    fn build_args_win_and_platform_args_need_declaring() {
        let (config, scope) = run(
            "FROM scratch\nARG A=default\nARG TARGETARCH\nENV A=$A ARCH=$TARGETARCH OS=$TARGETOS\n",
            &[("A", "given"), ("HTTP_PROXY", "http://proxy:3128")],
        );
        let env = config.env();
        assert!(env.contains(&("A".into(), "given".into())));
        assert!(env.contains(&("ARCH".into(), crate::platform::ARCH.into())));
        assert!(
            env.contains(&("OS".into(), String::new())),
            "TARGETOS was not declared"
        );
        assert!(
            scope
                .run_env(&config)
                .contains(&"HTTP_PROXY=http://proxy:3128".to_string())
        );
    }

    #[test]
    fn cmd_entrypoint_inheritance_and_config_fields() {
        let (c, _) = run("FROM scratch\nENTRYPOINT [\"/e\"]\n", &[]);
        assert_eq!(c.config.cmd, None, "the base CMD is reset");
        let (c, _) = run(
            "FROM scratch\nCMD [\"c\"]\nENTRYPOINT [\"/e\"]\nSHELL [\"/bin/bash\", \"-xc\"]\nCMD echo hi\n\
             WORKDIR /a\nWORKDIR b/../c\nUSER app:staff\nEXPOSE 80 53/udp 7000-7001\nVOLUME /data\n\
             LABEL a=b \"c d\"=\"e f\"\nSTOPSIGNAL SIGINT\nMAINTAINER me\nONBUILD RUN echo on\n\
             HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost\n",
            &[],
        );
        let r = &c.config;
        assert_eq!(r.entrypoint, Some(vec!["/e".to_string()]));
        assert_eq!(
            r.cmd,
            Some(vec!["/bin/bash".into(), "-xc".into(), "echo hi".into()])
        );
        assert_eq!(r.working_dir.as_deref(), Some("/a/c"));
        assert_eq!(r.user.as_deref(), Some("app:staff"));
        let ports: Vec<&String> = r.exposed_ports.as_ref().expect("ports").keys().collect();
        assert_eq!(ports, ["53/udp", "7000/tcp", "7001/tcp", "80/tcp"]);
        assert_eq!(
            r.labels
                .as_ref()
                .expect("labels")
                .get("c d")
                .map(String::as_str),
            Some("e f")
        );
        assert_eq!(r.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.author.as_deref(), Some("me"));
        assert_eq!(r.on_build, Some(vec!["RUN echo on".to_string()]));
        let hc = r.healthcheck.as_ref().expect("healthcheck");
        assert_eq!(hc.test, ["CMD-SHELL", "wget -q localhost"]);
        assert_eq!((hc.interval, hc.retries), (5_000_000_000, 2));
        let json = serde_json::to_value(&c).expect("json");
        assert_eq!(json["config"]["Healthcheck"]["Interval"], 5_000_000_000u64);
        assert_eq!(json["config"]["OnBuild"][0], "RUN echo on");
        assert_eq!(json["config"]["Shell"][1], "-xc");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").expect("d"), 90_000_000_000);
        assert_eq!(parse_duration("500ms").expect("d"), 500_000_000);
        assert!(parse_duration("5 s").is_err());
        assert!(parse_duration("").is_err());
    }
}
