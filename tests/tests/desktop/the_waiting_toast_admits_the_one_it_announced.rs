//! Two people wait under the same name. The "Eve is waiting" toast that announced the first
//! admits the first, by participant number, never the later arrival who took the same name
//! (issue 17, item 1).

use std::time::Instant;

use parley_tests::CliProc;
use serde_json::Value;

use crate::common::*;

/// How many "Eve is waiting" toasts are up.
const EVE_TOASTS: &str = "return [...document.querySelectorAll('[data-testid=\"toast\"]')]\
     .filter(t => t.textContent.includes('Eve is waiting')).length";

/// The meeting as the app's window has it (its own `current_meeting` command).
fn meeting(d: &parley_tests::desktop::Desktop) -> Value {
    d.script_async(
        "const done = arguments[arguments.length - 1];\
         window.__TAURI_INTERNALS__.invoke('current_meeting').then(done, e => done('ERR ' + JSON.stringify(e)));",
    )
}

/// The participant numbers in the waiting room, in order of arrival.
fn waiting(d: &parley_tests::desktop::Desktop) -> Vec<u64> {
    meeting(d)["waiting"]
        .as_array()
        .map(|w| w.iter().filter_map(|x| x["id"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn the_waiting_toast_admits_the_one_it_announced() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_waiting_toast_admits_the_one_it_announced");
    let link = host_here(&d, "Clinic", "Hana");

    let mut first = CliProc::spawn(
        &dir,
        "first",
        &["--synthetic", "join", &link, "--name", "Eve"],
    );
    first.expect("waiting");
    let announced = Instant::now();
    // Someone else arrives under the same name while the first toast is still up.
    let mut second = CliProc::spawn(
        &dir,
        "second",
        &["--synthetic", "join", &link, "--name", "Eve"],
    );
    second.expect("waiting");
    let mut ids = Vec::new();
    d.wait_for("two waiters and two toasts", |d| {
        ids = waiting(d);
        ids.len() == 2 && d.script(EVE_TOASTS, vec![]) == 2
    });
    // The host admits from the first "Eve is waiting" toast: the one that announced the first
    // Eve. (Toasts go by themselves after 6 s; this is well within.) The test marks that
    // toast's button so that WebDriver can click it as a person would.
    d.script(
        "const [t] = [...document.querySelectorAll('[data-testid=\"toast\"]')]\
           .filter(t => t.textContent.includes('Eve is waiting'));\
         t.querySelector('button.primary').setAttribute('data-test-pick', '');",
        vec![],
    );
    d.click("[data-test-pick]");
    println!(
        "admitted {:?} after the first Eve was announced",
        announced.elapsed()
    );
    let (first_id, second_id) = (ids[0], ids[1]);
    assert_ne!(first_id, second_id);
    let joined = first.expect("joined");
    assert_eq!(
        joined["you"].as_u64(),
        Some(first_id),
        "the first Eve is in"
    );
    d.wait_for("only the second Eve waits", |d| waiting(d) == [second_id]);
    let view = meeting(&d);
    let present: Vec<u64> = view["participants"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["id"].as_u64()).collect())
        .unwrap_or_default();
    assert!(
        present.contains(&first_id) && !present.contains(&second_id),
        "the first Eve is in the meeting, the second is not: {present:?}"
    );
    d.screenshot("01-first-eve-admitted");
    drop(first);
    drop(second);
}
