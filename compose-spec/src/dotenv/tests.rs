//! One test per dotenv rule.

use std::path::Path;
use std::sync::Arc;

use super::*;

fn file() -> Arc<Path> {
    Arc::from(Path::new(".env"))
}

fn parse_with(source: &str, env: &[(&str, &str)]) -> Result<Vars> {
    let lookup = |key: &str| {
        env.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    };
    parse(source, file(), &lookup)
}

fn parse_ok(source: &str) -> Vars {
    parse_with(source, &[]).unwrap_or_else(|e| panic!("{source:?}: {e}"))
}

fn parse_err(source: &str) -> String {
    let err = parse_with(source, &[]).expect_err(source);
    assert_eq!(err.kind(), ErrorKind::EnvFile, "{source:?}");
    err.to_string()
}

#[test]
fn parses_one_value_per_rule() {
    let cases = [
        // plain, spaces around `=`, yaml style, `=` and `:` inside values
        ("FOO=bar", "FOO", "bar"),
        ("FOO =bar", "FOO", "bar"),
        ("FOO= bar", "FOO", "bar"),
        (" KEY =value", "KEY", "value"),
        ("\tKEY=value", "KEY", "value"),
        ("OPTION_A: 1", "OPTION_A", "1"),
        ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
        ("OPTION_A=1:B", "OPTION_A", "1:B"),
        ("FOO=foobar=", "FOO", "foobar="),
        ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
        ("KEY=", "KEY", ""),
        ("KEY=\nNEXT=1", "KEY", ""),
        // export
        ("export OPTION_A=2", "OPTION_A", "2"),
        ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
        ("export exportFoo=2", "exportFoo", "2"),
        ("exportFOO=2", "exportFOO", "2"),
        ("export_FOO =2", "export_FOO", "2"),
        ("export.FOO= 2", "export.FOO", "2"),
        ("export\tOPTION_A=2", "OPTION_A", "2"),
        ("  export OPTION_A=2", "OPTION_A", "2"),
        ("export OPTION_A=\"export A\"", "OPTION_A", "export A"),
        // unquoted values are trimmed and lose ` #` comments, and keep backslashes
        ("FOO=bar ", "FOO", "bar"),
        ("FOO=bar\r\nX=1", "FOO", "bar"),
        ("FOO=bar # this is foo", "FOO", "bar"),
        ("FOO=bar #this is foo", "FOO", "bar"),
        ("FOO=bar #", "FOO", "bar"),
        (
            "FOO=123#not-an-inline-comment",
            "FOO",
            "123#not-an-inline-comment",
        ),
        ("FOO=a\\tb", "FOO", "a\\tb"),
        // single quotes are literal
        ("FOO='bar'", "FOO", "bar"),
        ("FOO='ba#r'", "FOO", "ba#r"),
        ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
        ("BAR='quote $FOO'", "BAR", "quote $FOO"),
        ("OPTION_K='Let\\'s go!'", "OPTION_K", "Let's go!"),
        // double quotes: escapes, then expansion
        ("FOO=\"bar\"", "FOO", "bar"),
        ("FOO=\"escaped\\\"bar\"", "FOO", "escaped\"bar"),
        ("FOO=\"\\\"quoted\\\"\"", "FOO", "\"quoted\""),
        ("FOO=\"'d'\"", "FOO", "'d'"),
        ("FOO=\"bar\\nbaz\"", "FOO", "bar\nbaz"),
        ("FOO=\"a\\tb\"", "FOO", "a\tb"),
        ("FOO=\"bar#baz\"", "FOO", "bar#baz"),
        ("FOO=\"bar#baz\"#", "FOO", "bar#baz"),
        ("FOO=\"bar#baz#bang\" # comment", "FOO", "bar#baz#bang"),
        ("FOO=\"bar\\n\\ b\\az\"", "FOO", "bar\n\\ b\u{7}z"),
        ("FOO=\"bar\\\\\\n\\ b\\az\"", "FOO", "bar\\\n\\ b\u{7}z"),
        ("FOO=\"bar\\\\r\\ b\\az\"", "FOO", "bar\\r\\ b\u{7}z"),
        ("FOO=\"bar\\nbaz\\\\\"", "FOO", "bar\nbaz\\"),
        ("KEY=\"\\0123\"", "KEY", "S"),
        ("KEY=\"\\x07\"", "KEY", "\\x07"),
        ("FOO=\"foo\\$BAR\"", "FOO", "foo$BAR"),
        ("FOO=\"foo\\${BAR}\"", "FOO", "foo${BAR}"),
        ("FOO=\"a\nb\"", "FOO", "a\nb"),
        // `$$` is a literal dollar in unquoted and double-quoted values
        ("FOO=a$$b", "FOO", "a$b"),
        ("=\"value\"", "", "value"),
    ];
    for (source, key, want) in cases {
        let vars = parse_ok(source);
        assert_eq!(
            vars.get(key).map(String::as_str),
            Some(want),
            "{source:?} -> {vars:?}"
        );
    }
}

#[test]
fn expands_earlier_variables_and_the_lookup_environment() {
    type Pairs = &'static [(&'static str, &'static str)];
    let cases: [(&str, Pairs, Pairs); 9] = [
        (
            "FOO=test\nBAR=$FOO",
            &[],
            &[("FOO", "test"), ("BAR", "test")],
        ),
        (
            "FOO=test\nBAR=${FOO}bar",
            &[],
            &[("FOO", "test"), ("BAR", "testbar")],
        ),
        ("BAR=$FOO", &[], &[("BAR", "")]),
        (
            "FOO=test\nBAR=\"quote $FOO\"",
            &[],
            &[("FOO", "test"), ("BAR", "quote test")],
        ),
        (
            "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"",
            &[],
            &[("FOO", "test"), ("BAR", "foo${FOO} test")],
        ),
        ("TEST=$ME", &[("ME", "YES")], &[("TEST", "YES")]),
        // the lookup environment wins over the file's own definition
        (
            "FOO=foo\nBAR=${FOO}",
            &[("FOO", "zot")],
            &[("FOO", "foo"), ("BAR", "zot")],
        ),
        ("A=${UNSET:-fallback}", &[], &[("A", "fallback")]),
        (
            "A=${B:+set}\nB=x\nC=${B:+set}",
            &[],
            &[("A", ""), ("B", "x"), ("C", "set")],
        ),
    ];
    for (source, env, want) in cases {
        let got = parse_with(source, env).unwrap_or_else(|e| panic!("{source:?}: {e}"));
        let want: Vars = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want, "{source:?} with {env:?}");
    }
}

#[test]
fn multi_line_values_keep_later_lines_in_place() {
    let vars = parse_ok("TEST_URLS=\"tcp://a:3333\ntcp://b:443\"\nNEXT=after # c\n");
    assert_eq!(vars["TEST_URLS"], "tcp://a:3333\ntcp://b:443");
    assert_eq!(vars["NEXT"], "after");
    assert_eq!(vars.len(), 2);
}

#[test]
fn bare_key_inherits_from_the_lookup_or_is_omitted() {
    let vars = parse_with("SET\nUNSET\nLAST", &[("SET", "from shell"), ("LAST", "l")]).unwrap();
    let keys: Vec<_> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(keys, [("SET", "from shell"), ("LAST", "l")]);
}

#[test]
fn skips_blank_lines_and_comments() {
    for source in [
        "\n",
        "\r\n",
        "\t\t ",
        "# Comment",
        "\t # comment",
        "# a\n\n  # b\n",
    ] {
        assert!(parse_ok(source).is_empty(), "{source:?}");
    }
    let vars = parse_ok("# first\nA=1\n   # indented\n\nB=2 # trailing\n#C=3");
    assert_eq!(vars.len(), 2);
    assert_eq!((vars["A"].as_str(), vars["B"].as_str()), ("1", "2"));
}

#[test]
fn a_later_definition_replaces_an_earlier_one() {
    let vars = parse_ok("A=1\nB=2\nA=3");
    assert_eq!(vars["A"], "3");
    assert_eq!(vars.keys().collect::<Vec<_>>(), ["A", "B"]);
}

#[test]
fn reports_invalid_lines_with_file_line_and_column() {
    let cases = [
        (
            "lol$wut",
            ".env:1:4: unexpected character '$' in variable name \"lol$wut\"",
        ),
        (
            "A=1\n\nB C=2",
            ".env:3:1: variable name \"B C\" cannot contain a space",
        ),
        (
            "A=1\nKEY=\"value",
            ".env:2:5: unterminated quoted value \"value",
        ),
        (
            "KEY=\"value\\\"",
            ".env:1:5: unterminated quoted value \"value\\\"",
        ),
        (
            "KEY='value\\'",
            ".env:1:5: unterminated quoted value 'value\\'",
        ),
        ("KEY='", ".env:1:5: unterminated quoted value '"),
    ];
    for (source, want) in cases {
        assert_eq!(parse_err(source), want, "{source:?}");
    }
    for source in ["KEY=\"", "KEY=\"value'", "KEY='value", "KEY='value\""] {
        assert!(
            parse_err(source).contains("unterminated quoted value"),
            "{source:?}"
        );
    }
}

#[test]
fn a_missing_required_variable_is_an_error_at_the_value() {
    let message = parse_err("A=1\nB=${NEEDED:?set NEEDED}");
    assert!(message.starts_with(".env:2:3: "), "{message}");
    assert!(message.contains("NEEDED"), "{message}");
}

#[test]
fn raw_format_takes_values_verbatim() {
    let source = "\u{feff}A=\"quoted\" # not a comment\n  B=${NOT_EXPANDED}\n# comment\n\nC=x=y \nINHERIT\nMISSING\r\nD='single'\r\n";
    let lookup = |key: &str| (key == "INHERIT").then(|| "shell".to_owned());
    let vars = parse_raw(source, file(), &lookup).unwrap();
    let got: Vec<_> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        [
            ("A", "\"quoted\" # not a comment"),
            ("B", "${NOT_EXPANDED}"),
            ("C", "x=y "),
            ("INHERIT", "shell"),
            ("D", "'single'"),
        ]
    );
}

#[test]
fn raw_format_rejects_bad_names() {
    let cases = [
        (
            "A=1\nB C=2",
            ".env:2:1: variable name \"B C\" cannot contain whitespace",
        ),
        ("  =value", ".env:1:3: no variable name on line \"=value\""),
    ];
    for (source, want) in cases {
        let err = parse_raw(source, file(), &|_| None).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn format_names() {
    assert_eq!(Format::from_name("raw"), Some(Format::Raw));
    assert_eq!(Format::from_name(""), Some(Format::Dotenv));
    assert_eq!(Format::from_name("yaml"), None);
    let source = "A=\"x\"";
    assert_eq!(
        parse_format(source, file(), Format::Raw, &|_| None).unwrap()["A"],
        "\"x\""
    );
    assert_eq!(
        parse_format(source, file(), Format::Dotenv, &|_| None).unwrap()["A"],
        "x"
    );
}

#[test]
fn read_files_later_files_win_and_see_earlier_values() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.env");
    let over = dir.path().join("override.env");
    let url = "ENV_MY_URL=\"http://${ENV_HOSTNAME}\"\n";
    std::fs::write(&base, format!("ENV_HOSTNAME=localhost\n{url}")).unwrap();
    std::fs::write(&over, format!("ENV_HOSTNAME=dev.my-company.com\n{url}")).unwrap();
    let files = [base, over];

    let got = read_files(&files, &|_| None).unwrap();
    assert_eq!(got["ENV_HOSTNAME"], "dev.my-company.com");
    assert_eq!(got["ENV_MY_URL"], "http://dev.my-company.com");

    let shell = |key: &str| (key == "ENV_HOSTNAME").then(|| "host.local".to_owned());
    let got = read_files(&files, &shell).unwrap();
    assert_eq!(got["ENV_HOSTNAME"], "dev.my-company.com");
    assert_eq!(got["ENV_MY_URL"], "http://host.local");
}

#[test]
fn read_reports_missing_files_and_directories_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.env");
    let err = read(&missing, &|_| None).unwrap_err();
    assert!(
        matches!(err, Error::Io { ref path, .. } if *path == missing),
        "{err}"
    );
    let err = read(dir.path(), &|_| None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("env file {} is a directory", dir.path().display())
    );
}

#[test]
fn read_names_the_file_in_syntax_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.env");
    std::fs::write(&path, "OK=1\nNOT OK\n").unwrap();
    let err = read(&path, &|_| None).unwrap_err();
    let want = format!(
        "{}:2:1: variable name \"NOT OK\" cannot contain a space",
        path.display()
    );
    assert_eq!(err.to_string(), want);
}
