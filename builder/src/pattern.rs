//! Path patterns: `*` and `?` within one path component, `[...]` classes (`^` or `!`
//! negates, ranges allowed), `\` escapes, and `**` for any number of components (as in
//! `.dockerignore`). A pattern matches a whole slash-separated relative path.

/// Whether `pattern` matches all of `path`. With `double_star`, `**` crosses `/`; without it
/// (COPY source globs), `**` is two `*`.
pub(crate) fn matches(pattern: &str, path: &str, double_star: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    match_at(&p, &s, double_star)
}

/// Whether `pattern` contains a wildcard (`*`, `?` or `[`).
pub(crate) fn has_wildcard(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

fn match_at(p: &[char], s: &[char], double_star: bool) -> bool {
    let Some((&c, rest)) = p.split_first() else {
        return s.is_empty();
    };
    match c {
        '*' if double_star && rest.first() == Some(&'*') => {
            let mut rest = &rest[1..];
            // `**/` also matches nothing at all.
            if rest.first() == Some(&'/') && match_at(&rest[1..], s, double_star) {
                return true;
            }
            while rest.first() == Some(&'*') {
                rest = &rest[1..];
            }
            (0..=s.len()).any(|i| match_at(rest, &s[i..], double_star))
        }
        '*' => {
            for i in 0..=s.len() {
                if match_at(rest, &s[i..], double_star) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    break;
                }
            }
            false
        }
        '?' => matches!(s.first(), Some(&x) if x != '/') && match_at(rest, &s[1..], double_star),
        '[' => match (s.first(), class(rest)) {
            (Some(&x), Some((set, negated, after))) if x != '/' => {
                let hit = set.iter().any(|&(lo, hi)| lo <= x && x <= hi);
                hit != negated && match_at(after, &s[1..], double_star)
            }
            _ => false,
        },
        '\\' if !rest.is_empty() => {
            s.first() == Some(&rest[0]) && match_at(&rest[1..], &s[1..], double_star)
        }
        c => s.first() == Some(&c) && match_at(rest, &s[1..], double_star),
    }
}

type Class<'a> = (Vec<(char, char)>, bool, &'a [char]);

/// A `[...]` class after its `[`: the ranges, whether negated, and the rest of the pattern.
fn class(p: &[char]) -> Option<Class<'_>> {
    let mut i = 0;
    let negated = matches!(p.first(), Some('^' | '!'));
    if negated {
        i += 1;
    }
    let mut set = Vec::new();
    let mut first = true;
    while i < p.len() {
        let mut c = p[i];
        if c == ']' && !first {
            return Some((set, negated, &p[i + 1..]));
        }
        first = false;
        if c == '\\' {
            i += 1;
            c = *p.get(i)?;
        }
        let mut hi = c;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&n| n != ']') {
            hi = p[i + 2];
            if hi == '\\' {
                hi = *p.get(i + 3)?;
                i += 1;
            }
            i += 2;
        }
        set.push((c, hi));
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases = [
            ("*.go", "a.go", false, true),
            ("*.go", "dir/a.go", false, false),
            ("dir/*", "dir/a", false, true),
            ("dir/*", "dir/a/b", false, false),
            ("**/*.go", "a.go", true, true),
            ("**/*.go", "x/y/a.go", true, true),
            ("dir/**", "dir/x/y", true, true),
            ("**", "anything/at/all", true, true),
            ("a?c", "abc", false, true),
            ("a?c", "a/c", false, false),
            ("[a-c]x", "bx", false, true),
            ("[!a-c]x", "bx", false, false),
            ("[^a-c]x", "dx", false, true),
            ("\\*x", "*x", false, true),
            ("\\*x", "ax", false, false),
            ("a/**/b", "a/b", true, true),
            ("a/**/b", "a/x/y/b", true, true),
            ("**", "a/b", false, false),
        ];
        for (p, s, ds, want) in cases {
            assert_eq!(matches(p, s, ds), want, "{p} vs {s} (double star {ds})");
        }
    }
}
