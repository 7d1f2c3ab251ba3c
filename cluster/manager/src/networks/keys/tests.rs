use super::*;

const MIN: u64 = 60_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn rotation() -> Rotation {
    Rotation::every(DEFAULT_INTERVAL)
}

fn counter() -> impl FnMut() -> String {
    let mut n = 0u8;
    move || {
        n += 1;
        hex::encode([n; KEY_LEN])
    }
}

/// Runs the planner from `keys` at each of `times` (applying every step it asks for, as the
/// leader does pass after pass) and returns the steps taken with their times.
fn run(mut keys: Vec<NetworkKey>, times: &[u64]) -> (Vec<(u64, KeyStep)>, Vec<NetworkKey>) {
    let mut secret = counter();
    let mut steps = Vec::new();
    for &t in times {
        // Several steps may be due at one time: the leader passes again at once after each.
        while let (Some(step), _) = plan(&keys, rotation(), at(t)) {
            keys = apply(&keys, step, at(t), &mut secret);
            steps.push((t, step));
        }
    }
    (steps, keys)
}

#[test]
fn a_new_network_gets_one_primary_key_sent_with_at_once() {
    let enc = first(0, at(1_000));
    assert_eq!(enc.keys.len(), 1);
    let k = &enc.keys[0];
    assert_eq!(
        (k.id, k.primary, k.primary_since_ms),
        (1, true, Some(1_000))
    );
    assert_eq!(k.secret.len(), KEY_LEN * 2, "32 bytes in hex");
    assert_ne!(
        first(0, at(1_000)).keys[0].secret,
        k.secret,
        "random, not derived"
    );
    let (step, due) = plan(&enc.keys, rotation(), at(1_000));
    assert_eq!(step, None);
    assert_eq!(due, Some(at(1_000).after(DEFAULT_INTERVAL)));
}

#[test]
fn rotation_adds_then_promotes_then_retires_in_order() {
    let start = first(0, at(0)).keys;
    let twelve_h = DEFAULT_INTERVAL.as_millis() as u64;
    let times = [
        MIN,
        twelve_h - 1,
        twelve_h,
        twelve_h + MIN / 4,
        twelve_h + MIN / 2,
        twelve_h + MIN,
        twelve_h + MIN / 2 + MIN,
        twelve_h + 2 * MIN,
    ];
    let (steps, keys) = run(start, &times);
    assert_eq!(
        steps,
        vec![
            (
                twelve_h,
                KeyStep::Add {
                    id: 2,
                    primary: false
                }
            ),
            (twelve_h + MIN / 2, KeyStep::Promote(2)),
            (twelve_h + MIN / 2 + MIN, KeyStep::Retire(1)),
        ]
    );
    assert_eq!(keys.len(), 1);
    assert!(keys[0].primary && keys[0].id == 2);
}

#[test]
fn the_new_key_is_accepted_before_it_is_sent_with_and_the_old_one_after() {
    let twelve_h = DEFAULT_INTERVAL.as_millis() as u64;
    let mut keys = first(0, at(0)).keys;
    let mut secret = counter();
    // Added: two keys, the old one still primary.
    let (step, _) = plan(&keys, rotation(), at(twelve_h));
    keys = apply(&keys, step.expect("add due"), at(twelve_h), &mut secret);
    assert_eq!(
        keys.iter()
            .filter(|k| k.primary)
            .map(|k| k.id)
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(keys.len(), 2);
    // Not promoted before the propagation time; told when.
    let (step, due) = plan(&keys, rotation(), at(twelve_h + 1));
    assert_eq!(step, None);
    assert_eq!(due, Some(at(twelve_h).after(rotation().propagation)));
    // Promoted: the old key is still there (accepted) until the grace has passed.
    let promote_at = twelve_h + 30_000;
    keys = apply(
        &keys,
        plan(&keys, rotation(), at(promote_at)).0.expect("promote"),
        at(promote_at),
        &mut secret,
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.primary)
            .map(|k| k.id)
            .collect::<Vec<_>>(),
        vec![2]
    );
    let (step, due) = plan(&keys, rotation(), at(promote_at + 59_999));
    assert_eq!(step, None);
    assert_eq!(due, Some(at(promote_at + 60_000)));
}

#[test]
fn short_intervals_shorten_propagation_and_grace() {
    let r = Rotation::every(Duration::from_secs(20));
    assert_eq!(r.interval, Duration::from_secs(20));
    assert_eq!(r.propagation, Duration::from_secs(5));
    assert_eq!(r.grace, Duration::from_secs(10));
    assert_eq!(Rotation::every(Duration::ZERO).interval, DEFAULT_INTERVAL);
}

#[test]
fn keys_without_a_primary_send_with_the_newest() {
    let mut keys = first(0, at(0)).keys;
    keys = apply(
        &keys,
        KeyStep::Add {
            id: 2,
            primary: false,
        },
        at(5),
        || "00".repeat(KEY_LEN),
    );
    for k in &mut keys {
        k.primary = false;
    }
    assert_eq!(plan(&keys, rotation(), at(6)).0, Some(KeyStep::Promote(2)));
}

#[test]
fn secrets_never_show_in_debug() {
    let enc = first(0, at(0));
    let shown = format!("{enc:?}");
    assert!(!shown.contains(&enc.keys[0].secret), "{shown}");
}
