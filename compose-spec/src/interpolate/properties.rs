//! Property tests of interpolation, carrying the fuzz target for templates (see
//! `tests/properties.rs` for why these are property tests): arbitrary templates with arbitrary
//! environments never panic [`interpolate_str`], `$$` escapes any text, and a set variable
//! substitutes its value.

use proptest::prelude::*;

use super::interpolate_str;

fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[A-C_][A-C0-9_]{0,2}", "[a-z${}:?+ -]{0,8}"), 0..6)
}

fn lookup_in(env: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_templates_never_panic(
        template in "[$${}:?+A-C_a-z0-9 -]{0,48}",
        env in environment(),
    ) {
        let lookup = lookup_in(&env);
        let _ = interpolate_str(&template, &lookup);
    }

    #[test]
    fn deeply_nested_templates_never_panic(depth in 0usize..200, env in environment()) {
        let template = "${A:-".repeat(depth) + "x" + &"}".repeat(depth);
        let lookup = lookup_in(&env);
        let _ = interpolate_str(&template, &lookup);
    }

    #[test]
    fn escaped_text_comes_back_unchanged(text in "\\PC{0,64}", env in environment()) {
        let escaped = text.replace('$', "$$");
        let lookup = lookup_in(&env);
        let done = interpolate_str(&escaped, &lookup).unwrap();
        prop_assert_eq!(done.value, text);
        prop_assert!(done.unset.is_empty());
    }

    #[test]
    fn a_set_variable_substitutes_its_value(
        name in "[A-Z_][A-Z0-9_]{0,8}",
        value in "[a-z0-9 ./:-]{0,16}",
        default in "[a-z]{0,4}",
    ) {
        let env = vec![(name.clone(), value.clone())];
        let lookup = lookup_in(&env);
        for template in [
            format!("${{{name}}}"),
            format!("${name}"),
            format!("${{{name}-{default}}}"),
            format!("${{{name}?must be set}}"),
        ] {
            let done = interpolate_str(&template, &lookup).unwrap();
            prop_assert_eq!(&done.value, &value, "{}", template);
        }
        let expected = if value.is_empty() { default.clone() } else { value.clone() };
        let done = interpolate_str(&format!("<${{{name}:-{default}}}>"), &lookup).unwrap();
        prop_assert_eq!(done.value, format!("<{expected}>"));
    }
}
