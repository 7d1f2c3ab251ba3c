//! `--format`, as docker takes it: `json`, a Go template (`{{.ID}}: {{.Status}}`), or a table
//! template (`table {{.ID}}\t{{.Image}}`) whose header row names the fields as docker does.
//!
//! Every command builds its rows (for `ls`) or objects (for `inspect`) as the JSON values it
//! prints for `--format json`, with docker's field names; this module renders them. Templates run
//! on [gtmpl](https://crates.io/crates/gtmpl), a Rust implementation of Go's `text/template`:
//! it was picked because it implements Go's syntax and semantics (pipelines, `if`/`range`/`with`,
//! variables, `index`, `printf`, trim markers) rather than a look-alike (Tera, Handlebars and
//! MiniJinja speak Jinja or Mustache, not `{{.Field}}`), its functions are plain `fn`s so
//! docker's (`json`, `join`, `split`, `lower`, `upper`, `title`, `truncate`, `pad`) plug in, and
//! it builds from crates.io with four small dependencies. gtmpl prints values through Rust's
//! `Display`, so a slice or map printed whole (`{{.Mounts}}`) would show in Rust's debug form:
//! every printing action's pipeline is made to end in a function that prints as Go does
//! (`actions`, `goprint`). Its remaining known difference from Go: `range` over a map does not
//! sort its keys.

mod actions;
mod funcs;
mod goprint;
pub(crate) mod header;
mod tabwriter;
mod value;

use std::io::Write;

use gtmpl::error::ExecError;
use gtmpl::{Context, Template};
use serde_json::Value as Json;

use header::Headers;

/// A template that could not be parsed or run: one line naming the template and the fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FormatError {
    /// The template does not parse.
    #[error("invalid --format template {template:?}: {reason}")]
    Parse {
        /// The template as given.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The template parsed but failed on a value (an unknown field, a function's bad argument).
    #[error("--format template {template:?} failed: {reason}")]
    Execute {
        /// The template as given.
        template: String,
        /// What failed.
        reason: String,
    },
}

/// How a command prints what it lists or inspects.
pub(crate) enum Format {
    /// The command's own table (for `inspect`, the indented JSON array).
    Default,
    /// One compact JSON object per line.
    Json,
    /// A Go template, run once per row or object.
    Template(Box<Compiled>),
}

/// A parsed template.
pub(crate) struct Compiled {
    /// The template as the user gave it.
    source: String,
    /// The template run on each row.
    rows: Template,
    /// For `table …`: the same text with docker's header functions, run on the field names.
    header: Option<Template>,
    /// The fields the template names (`.ID`, `.Image` …), for the header row of an empty table.
    fields: Vec<String>,
}

impl Format {
    /// The `--format` of a listing command: empty or `table` for the command's own table,
    /// `json`, `table TEMPLATE` or `TEMPLATE`. `\t` and `\n` written as two characters stand
    /// for a tab and a newline, as in docker.
    pub(crate) fn parse(text: &str) -> Result<Self, FormatError> {
        match text.trim() {
            "" | "table" => Ok(Self::Default),
            "json" => Ok(Self::Json),
            trimmed => {
                let (table, body) = match trimmed.strip_prefix("table") {
                    Some(body) => (true, body.trim()),
                    None => (false, trimmed),
                };
                let body = body.replace("\\t", "\t").replace("\\n", "\n");
                Ok(Self::Template(Box::new(Compiled::new(text, &body, table)?)))
            }
        }
    }

    /// The `--format` of an `inspect` command: none for the indented JSON array, `json` for one
    /// line per object, else a template run on each object.
    pub(crate) fn parse_inspect(text: Option<&str>) -> Result<Self, FormatError> {
        match text {
            None | Some("") => Ok(Self::Default),
            Some("json") => Ok(Self::Json),
            Some(text) => Ok(Self::Template(Box::new(Compiled::new(text, text, false)?))),
        }
    }

    /// Whether the command prints its own default output.
    pub(crate) fn is_default(&self) -> bool {
        matches!(self, Self::Default)
    }

    /// The text for listed `rows`, or `None` when the command prints its own table. A table
    /// template gets a header row (the fields' names from `headers`) and aligned columns.
    pub(crate) fn rows(
        &self,
        rows: &[Json],
        headers: Headers,
    ) -> Result<Option<String>, FormatError> {
        match self {
            Self::Default => Ok(None),
            Self::Json => Ok(Some(json_lines(rows))),
            Self::Template(compiled) => compiled.render_rows(rows, headers).map(Some),
        }
    }

    /// The text for inspected `objects`: the indented JSON array by default.
    pub(crate) fn objects(&self, objects: &[Json]) -> Result<String, FormatError> {
        match self {
            Self::Default => {
                let mut text = serde_json::to_string_pretty(objects)
                    .expect("JSON values (string keys only) always serialize");
                text.push('\n');
                Ok(text)
            }
            Self::Json => Ok(json_lines(objects)),
            Self::Template(compiled) => compiled.render_rows(objects, &[]),
        }
    }
}

/// Writes `text` to stdout (a closed pipe is an error the caller's report turns into a quiet
/// exit, never a panic).
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn json_lines(values: &[Json]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

impl Compiled {
    fn new(source: &str, body: &str, table: bool) -> Result<Self, FormatError> {
        let parse = |funcs: &[(&str, gtmpl::Func)]| {
            let mut template = Template::with_name("format");
            template.add_funcs(funcs);
            template
                .parse(actions::print_through(body, goprint::PRINT))
                .map_err(|err| FormatError::Parse {
                    template: source.to_string(),
                    reason: one_line(&err.to_string()),
                })?;
            Ok::<_, FormatError>(template)
        };
        Ok(Self {
            source: source.to_string(),
            rows: parse(funcs::FUNCS)?,
            header: if table {
                Some(parse(funcs::HEADER_FUNCS)?)
            } else {
                None
            },
            fields: named_fields(body),
        })
    }

    fn render(&self, template: &Template, value: gtmpl::Value) -> Result<String, FormatError> {
        template
            .render(&Context::from(value))
            .map_err(|err| FormatError::Execute {
                template: self.source.clone(),
                reason: exec_reason(err),
            })
    }

    fn render_rows(&self, rows: &[Json], headers: Headers) -> Result<String, FormatError> {
        let mut text = String::new();
        if let Some(header) = &self.header {
            let mut names = std::collections::HashMap::new();
            let row_fields = rows
                .first()
                .and_then(Json::as_object)
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            for field in self.fields.iter().chain(&row_fields) {
                names.insert(
                    field.clone(),
                    gtmpl::Value::String(header::name(headers, field)),
                );
            }
            text.push_str(&self.render(header, gtmpl::Value::Map(names))?);
            text.push('\n');
        }
        for row in rows {
            text.push_str(&self.render(&self.rows, value::to_template(row))?);
            text.push('\n');
        }
        Ok(if self.header.is_some() {
            tabwriter::align(&text)
        } else {
            text
        })
    }
}

/// The top-level fields a template names (`{{.ID}}\t{{.State.Status}}` → `ID`, `State`).
fn named_fields(body: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let after_field_start = i == 0
            || !(chars[i - 1].is_alphanumeric()
                || chars[i - 1] == '_'
                || chars[i - 1] == '.'
                || chars[i - 1] == ')');
        if *c == '.' && after_field_start {
            let name: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect();
            if !name.is_empty() && !fields.contains(&name) {
                fields.push(name);
            }
        }
    }
    fields
}

fn exec_reason(err: ExecError) -> String {
    let reason = match err {
        ExecError::NoFiledFor(field, _) => format!("can't evaluate field {field}"),
        ExecError::OnlyMapsAndObjectsHaveFields => {
            "can't evaluate a field of a value that is not an object".to_string()
        }
        other => other.to_string(),
    };
    one_line(&reason)
}

/// The first line of `text`, at most 200 characters.
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 200 {
        line.chars().take(199).chain(['…']).collect()
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests;
