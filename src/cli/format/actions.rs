//! The actions of a template text that print their value, found by Go's lexical rules, so that
//! each can end in a function that prints as Go does (gtmpl prints through Rust's `Display` and
//! offers no hook for it).
//!
//! An action `{{…}}` prints unless it is a comment (`{{/* … */}}`), a keyword action (`if`,
//! `else`, `end`, `range`, `with`, `define`, `template`, `block`, `break`, `continue`) or a
//! variable declaration or assignment (`$x := …`, `$x = …`). Its end is the first `}}` outside a
//! quoted string, raw string or character constant, as in Go's lexer; trim markers (`{{- `,
//! ` -}}`) are kept where they are.

/// The keywords that begin actions which print nothing themselves.
const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// `text` with ` | FUNC` appended to the pipeline of every action that prints.
pub(super) fn print_through(text: &str, func: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start + 2]);
        let inside = &rest[start + 2..];
        let Some(end) = action_end(inside) else {
            // An unclosed action: left as it is for the parser to report.
            out.push_str(inside);
            return out;
        };
        let body = &inside[..end];
        out.push_str(&rewrite(body, func));
        out.push_str("}}");
        rest = &inside[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The offset of the `}}` that closes the action whose text starts at `inside`.
fn action_end(inside: &str) -> Option<usize> {
    let bytes = inside.as_bytes();
    let mut i = 0;
    if let Some(comment) = after_left_trim(inside).strip_prefix("/*") {
        let comment_start = inside.len() - comment.len();
        let close = comment.find("*/")?;
        i = comment_start + close + 2;
    }
    while i < bytes.len() {
        match bytes[i] {
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'`' => {
                i += 1 + inside[i + 1..].find('`')?;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The action's text after its left trim marker (`-` and one space right after `{{`), if any.
fn after_left_trim(body: &str) -> &str {
    match body.strip_prefix('-') {
        Some(after) if after.starts_with([' ', '\t', '\r', '\n']) => &after[1..],
        _ => body,
    }
}

/// The body of one action, its pipeline ending in `func` if the action prints.
fn rewrite(body: &str, func: &str) -> String {
    let words = after_left_trim(body).trim_start();
    if words.is_empty() || words.starts_with("/*") || !prints(words) {
        return body.to_string();
    }
    // The pipeline ends before the right trim marker (` -` before `}}`), if any.
    let trimmed = body.trim_end();
    let pipeline_end = match trimmed.strip_suffix('-') {
        Some(before) if before.ends_with([' ', '\t', '\r', '\n']) => before.trim_end().len(),
        _ => trimmed.len(),
    };
    format!(
        "{} | {func}{}",
        &body[..pipeline_end],
        &body[pipeline_end..]
    )
}

/// Whether an action whose words are `words` prints its value.
fn prints(words: &str) -> bool {
    let first: String = words
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if KEYWORDS.contains(&first.as_str()) {
        return false;
    }
    let Some(variable) = words.strip_prefix('$') else {
        return true;
    };
    let after = variable
        .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
        .trim_start();
    !(after.starts_with(":=") || after.starts_with('=') || after.starts_with(','))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(text: &str) -> String {
        print_through(text, "p")
    }

    #[test]
    fn printing_actions_end_in_the_function() {
        assert_eq!(through("{{.Config.Env}}"), "{{.Config.Env | p}}");
        assert_eq!(
            through("a {{ .A | lower }} b {{index .L 0}}"),
            "a {{ .A | lower | p }} b {{index .L 0 | p}}"
        );
        assert_eq!(through("{{- .A -}}\n"), "{{- .A | p -}}\n");
        assert_eq!(through("{{-.A}}"), "{{-.A | p}}");
        assert_eq!(through("{{$v}}"), "{{$v | p}}");
        assert_eq!(through("{{ $x.Name }}"), "{{ $x.Name | p }}");
    }

    #[test]
    fn control_comments_and_declarations_are_left_alone() {
        let text = "{{range $k, $v := .Labels}}{{$k}}={{$v}}{{else}}none{{end}}";
        assert_eq!(
            through(text),
            "{{range $k, $v := .Labels}}{{$k | p}}={{$v | p}}{{else}}none{{end}}"
        );
        for text in [
            "{{/* a }} comment */}}",
            "{{- /* c */ -}}",
            "{{- /* it's a }} comment */ -}}",
            "{{$x := .A}}",
            "{{ $x = .B }}",
            "{{if .A}}{{end}}",
            "{{with .A}}{{end}}",
            "{{define \"t\"}}{{end}}",
            "{{template \"t\" .}}",
            "{{}}",
        ] {
            assert_eq!(through(text), text);
        }
    }

    #[test]
    fn strings_may_hold_the_closing_delimiter() {
        assert_eq!(
            through(r#"{{printf "}}%s\"}}" .A}} {{join .L `}}`}}"#),
            r#"{{printf "}}%s\"}}" .A | p}} {{join .L `}}` | p}}"#
        );
        assert_eq!(through("{{.A"), "{{.A");
    }
}
