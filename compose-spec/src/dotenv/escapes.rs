//! Backslash escapes inside double-quoted dotenv values.
//!
//! The escapes of POSIX `echo` are understood: `\a \b \f \n \r \t \v \\ \"`, and `\0` followed by
//! three octal digits. `\$` becomes `$$`, which variable expansion then turns into a literal `$`
//! (so `"\${HOME}"` is not expanded). Any other backslash is kept as written (`\x41` stays
//! `\x41`).

/// `value` with its escapes replaced.
pub(super) fn expand(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut chars = after.chars();
        let replaced = match chars.next() {
            Some('a') => Some(("\u{7}", 1)),
            Some('b') => Some(("\u{8}", 1)),
            Some('f') => Some(("\u{c}", 1)),
            Some('n') => Some(("\n", 1)),
            Some('r') => Some(("\r", 1)),
            Some('t') => Some(("\t", 1)),
            Some('v') => Some(("\u{b}", 1)),
            Some('\\') => Some(("\\", 1)),
            Some('"') => Some(("\"", 1)),
            Some('$') => Some(("$$", 1)),
            _ => None,
        };
        if let Some((text, len)) = replaced {
            out.push_str(text);
            rest = &after[len..];
        } else if let Some(digits) = after.strip_prefix('0') {
            // `\0` takes up to three digits; only exactly three octal digits make a character,
            // anything else is kept as written.
            let len = digits
                .bytes()
                .take(3)
                .take_while(u8::is_ascii_digit)
                .count();
            match octal(&digits[..len]) {
                Some(c) => out.push(c),
                None => {
                    out.push_str("\\0");
                    out.push_str(&digits[..len]);
                }
            }
            rest = &digits[len..];
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The character of three octal digits (at most `\377`).
fn octal(digits: &str) -> Option<char> {
    if digits.len() != 3 {
        return None;
    }
    u8::from_str_radix(digits, 8).ok().map(char::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_posix_escapes_and_keeps_the_rest() {
        let cases = [
            (r"a\nb", "a\nb"),
            (
                r"Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z",
                "Z\u{7}Z\u{8}Z\u{c}Z\nZ\rZ\tZ\u{b}Z\\ZSZ",
            ),
            (r"\0123", "S"),
            (r"\01234", "S4"),
            (r"\012", r"\012"),
            (r"\0", r"\0"),
            (r"\0777", r"\0777"),
            (r"\0189", r"\0189"),
            (r"\x07", r"\x07"),
            (r"\u12e4", r"\u12e4"),
            (r"foo\$BAR", "foo$$BAR"),
            (r"bar\ b", r"bar\ b"),
            (r"end\", r"end\"),
            (r"é\té", "é\té"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input), want, "input {input:?}");
        }
    }
}
