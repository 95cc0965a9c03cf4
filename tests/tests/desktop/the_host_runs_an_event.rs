//! Event mode from the app: the host turns it on in the security menu; Ann, in the audience,
//! may not unmute (the server refuses) and is not seen; the host invites her to speak from the
//! participants panel, she unmutes and her video comes back on the host's screen; sent back
//! to the audience, she is muted by the host.

use crate::common::*;

#[test]
fn the_host_runs_an_event() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_host_runs_an_event");
    let link = host_here(&d, "Town hall", "Hana");
    let (mut ann, ann_id) = admit_participant(&d, &dir, &link, "Ann");
    d.find(&sel(&format!("tile-{ann_id}")));

    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("policy-event-mode"));
    ann.expect_where("policy_changed", |v| v["policy"]["event_mode"] == true);
    d.wait_for("the switch on", |d| {
        d.script(
            "return document.getElementById('policy-event-mode').getAttribute('aria-checked')",
            vec![],
        ) == "true"
    });
    d.screenshot("01-event-mode");

    // In the audience: the server refuses her unmute.
    ann.send("unmute");
    assert_eq!(ann.expect("error")["kind"], "disabled_by_host");

    // Invited to speak: she is told, the panel shows her on the stage, she may unmute, and
    // her video reaches the host again.
    open_panel(&d, "participants-panel", "participants-button");
    d.click(&sel(&format!("stage-{ann_id}")));
    ann.expect_where("stage", |v| v["id"] == ann_id && v["on"] == true);
    d.find(&format!("[data-testid=\"on-stage-{ann_id}\"]"));
    ann.send("unmute");
    ann.expect_where("muted", |v| v["id"] == ann_id && v["muted"] == false);
    assert_tile_moves(&d, ann_id, "02-on-stage");
    d.screenshot("02-on-stage");

    // Back to the audience: muted by the host.
    d.click(&sel(&format!("stage-{ann_id}")));
    ann.expect_where("muted", |v| {
        v["id"] == ann_id && v["muted"] == true && v["by_host"] == true
    });
    d.wait_for("the stage mark gone", |d| {
        d.find_now(&format!("[data-testid=\"on-stage-{ann_id}\"]"))
            .is_none()
    });
}
