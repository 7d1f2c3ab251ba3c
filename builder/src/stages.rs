//! Which stages a build needs: the target (`--target` or the last stage) and, transitively,
//! the stages it starts FROM or copies and mounts from (`--from=name|index`). Stage names
//! are case-insensitive.

use crate::error::{BuildError, Result};
use crate::lex::Lexer;
use crate::parse::{Dockerfile, Instruction};

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// `FROM scratch`.
    Scratch,
    /// An earlier stage (its index).
    Stage(usize),
    /// An image reference.
    Image(String),
}

/// The plan of one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StagePlan {
    /// Its index in the Dockerfile.
    pub index: usize,
    /// `AS name`, lower case.
    pub name: Option<String>,
    /// What it starts from.
    pub base: Base,
}

impl StagePlan {
    /// The name shown in progress (`name` or `stage-<index>`).
    pub(crate) fn display(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

/// Finds a stage by name or index among the first `before` stages.
pub(crate) fn find_stage(plans: &[StagePlan], reference: &str, before: usize) -> Option<usize> {
    let lower = reference.to_ascii_lowercase();
    if let Some(i) = plans[..before]
        .iter()
        .position(|p| p.name.as_deref() == Some(lower.as_str()))
    {
        return Some(i);
    }
    reference.parse::<usize>().ok().filter(|i| *i < before)
}

/// The stages' plans and the indexes to build, in order.
pub(crate) fn plan(
    df: &Dockerfile,
    lexer: &Lexer,
    meta: &[(String, String)],
    target: Option<&str>,
) -> Result<(Vec<StagePlan>, Vec<usize>)> {
    let mut plans: Vec<StagePlan> = Vec::new();
    for (index, stage) in df.stages.iter().enumerate() {
        let Instruction::From { image, name, flags } = &stage.from.kind else {
            return Err(BuildError::Invalid(
                "a stage does not start with FROM".into(),
            ));
        };
        let at = |e: BuildError| e.at(stage.from.line, &stage.from.source);
        for flag in flags {
            let value = flag.value.clone().unwrap_or_default();
            match flag.name.as_str() {
                "platform" => {
                    let wanted = lexer.word(&value, meta).map_err(|e| at(e.into()))?;
                    let host = crate::platform::platform();
                    if wanted != host && wanted != "linux" {
                        return Err(at(BuildError::Unsupported(format!(
                            "FROM --platform={wanted} (this builder builds for {host} only)"
                        ))));
                    }
                }
                other => {
                    return Err(at(BuildError::Invalid(format!(
                        "unknown flag --{other} for FROM"
                    ))));
                }
            }
        }
        let image = lexer
            .word(image, meta)
            .map_err(|e| BuildError::from(e).at(stage.from.line, &stage.from.source))?;
        if image.is_empty() {
            return Err(
                BuildError::Invalid("base name (FROM) should not be blank".into())
                    .at(stage.from.line, &stage.from.source),
            );
        }
        let base = if image.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(i) = plans
            .iter()
            .position(|p| p.name.as_deref() == Some(image.to_ascii_lowercase().as_str()))
        {
            Base::Stage(i)
        } else {
            Base::Image(image)
        };
        plans.push(StagePlan {
            index,
            name: name.as_ref().map(|n| n.to_ascii_lowercase()),
            base,
        });
    }
    let target = match target {
        None => plans.len() - 1,
        Some(t) => plans
            .iter()
            .position(|p| p.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
            .ok_or_else(|| BuildError::Invalid(format!("target stage {t:?} could not be found")))?,
    };
    let mut needed = vec![false; plans.len()];
    let mut stack = vec![target];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut needed[i], true) {
            continue;
        }
        stack.extend(dependencies(df, &plans, lexer, meta, i));
    }
    let order = (0..plans.len()).filter(|i| needed[*i]).collect();
    Ok((plans, order))
}

/// The stages stage `index` needs built first (its base and its `--from` sources).
pub(crate) fn dependencies(
    df: &Dockerfile,
    plans: &[StagePlan],
    lexer: &Lexer,
    meta: &[(String, String)],
    index: usize,
) -> Vec<usize> {
    let mut out = Vec::new();
    if let Base::Stage(j) = plans[index].base {
        out.push(j);
    }
    for instr in &df.stages[index].instructions {
        for from in from_flags(&instr.kind) {
            let from = lexer.word(&from, meta).unwrap_or(from);
            if let Some(j) = find_stage(plans, &from, index) {
                out.push(j);
            }
        }
    }
    out
}

/// The `--from` values of COPY, ADD and RUN mounts.
fn from_flags(kind: &Instruction) -> Vec<String> {
    match kind {
        Instruction::Copy(c) | Instruction::Add(c) => c
            .flags
            .iter()
            .filter(|f| f.name == "from")
            .filter_map(|f| f.value.clone())
            .collect(),
        Instruction::Run { flags, .. } => flags
            .iter()
            .filter(|f| f.name == "mount")
            .filter_map(|f| f.value.as_deref())
            .flat_map(|v| v.split(','))
            .filter_map(|kv| kv.strip_prefix("from="))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn only_needed_stages_in_order() {
        let df = parse(
            "ARG BASE=busybox\nFROM ${BASE} AS Base\nFROM scratch AS unused\nFROM base AS build\n\
             RUN --mount=type=bind,from=tools,target=/t true\nFROM busybox AS tools\n\
             FROM scratch\nCOPY --from=build /x /x\nCOPY --from=0 /y /y\n",
        )
        .expect("parse");
        let meta = vec![("BASE".to_string(), "busybox:1".to_string())];
        let (plans, order) = plan(&df, &Lexer::default(), &meta, None).expect("plan");
        assert_eq!(plans[0].base, Base::Image("busybox:1".into()));
        assert_eq!(plans[2].base, Base::Stage(0));
        assert_eq!(plans[4].base, Base::Scratch);
        assert_eq!(order, [0, 2, 4]);
        let (_, order) = plan(&df, &Lexer::default(), &meta, Some("BUILD")).expect("plan");
        assert_eq!(order, [0, 2]);
        assert!(plan(&df, &Lexer::default(), &meta, Some("nope")).is_err());
        let host = crate::platform::platform();
        let meta = crate::platform::platform_args();
        let ok = parse("FROM --platform=$BUILDPLATFORM busybox\n").expect("parse");
        assert!(plan(&ok, &Lexer::default(), &meta, None).is_ok());
        let other = if host == "linux/arm64" {
            "linux/amd64"
        } else {
            "linux/arm64"
        };
        let bad = parse(&format!("FROM --platform={other} busybox\n")).expect("parse");
        let err = plan(&bad, &Lexer::default(), &meta, None).expect_err("another platform");
        assert!(
            err.to_string().contains("line 1") && err.to_string().contains("not supported"),
            "{err}"
        );
    }
}
