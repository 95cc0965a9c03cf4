//! Files between parley-cli processes through a real server, once a host allows them: a file
//! of 5 MiB arrives intact (checked byte for byte) and is saved only where the person says; a
//! file over the server's limit is refused with a clear message; a name with path and
//! direction tricks arrives harmless; the server never sees the name or the content.

use parley_tests::*;

fn joins(dir: &std::path::Path, link: &str, name: &str, members: u64) -> CliProc {
    let mut p = CliProc::spawn(dir, &name.to_lowercase(), &["join", link, "--name", name]);
    p.expect("joined");
    p.expect_where("e2ee", |v| {
        v["state"] == "secured" && v["members"] == members
    });
    p
}

#[test]
fn a_file_of_5_mib_arrives_intact_and_one_over_the_limit_is_refused() {
    let dir = temp_dir("files");
    let config = dir.join("server.toml");
    std::fs::write(&config, "[limits]\nmax_file_mib = 6\n").unwrap();
    let server = ServerProc::start_with(&dir, &["--config", config.to_str().unwrap()], "info");
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut ann = joins(&dir, &link, "Ann", 2);
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);

    let data = varied_bytes(5 << 20, 1);
    let file = dir.join("minutes.pdf");
    std::fs::write(&file, &data).unwrap();

    // Off by default: refused before anything leaves.
    ann.send(&format!("send-file {}", file.display()));
    ann.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("has not allowed sending files")
    });

    hana.send("set file_transfer on");
    ann.expect_where("policy_changed", |v| v["policy"]["file_transfer"] == true);
    ann.send(&format!("send-file {}", file.display()));
    let sending = ann.expect("file_sending");
    let transfer = sending["transfer"].as_u64().unwrap();
    assert_eq!(sending["size"], 5 << 20);
    let offered = hana.expect_where("file_offered", |v| v["transfer"] == transfer);
    assert_eq!(
        (offered["name"].as_str(), offered["risky"].as_bool()),
        (Some("minutes.pdf"), Some(false))
    );
    hana.expect_where("file_progress", |v| v["transfer"] == transfer);
    let received = hana.expect_within(std::time::Duration::from_secs(120), "file_received", |v| {
        v["transfer"] == transfer
    });
    assert_eq!(received["size"], 5 << 20);
    ann.expect_where("file_sent", |v| v["transfer"] == transfer);

    // Nothing was written until the host saves it, and then only where they say.
    let saved_dir = dir.join("saved");
    std::fs::create_dir_all(&saved_dir).unwrap();
    assert_eq!(std::fs::read_dir(&saved_dir).unwrap().count(), 0);
    hana.send(&format!("save-file {transfer} {}", saved_dir.display()));
    let saved = hana.expect("file_saved");
    let path = saved["path"].as_str().unwrap().to_string();
    assert_eq!(path, saved_dir.join("minutes.pdf").display().to_string());
    assert!(
        std::fs::read(&path).unwrap() == data,
        "the file arrived intact"
    );
    // Saving again is refused: it is no longer kept (and nothing is written over).
    hana.send(&format!("save-file {transfer} {}", saved_dir.display()));
    hana.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("no received file")
    });

    // Over the server's limit of 6 MiB: refused, with the reason.
    let big = dir.join("video.mp4");
    std::fs::write(&big, varied_bytes(7 << 20, 2)).unwrap();
    ann.send(&format!("send-file {}", big.display()));
    ann.expect_where("note", |v| {
        let m = v["message"].as_str().unwrap_or("");
        m.contains("takes files up to") && m.contains(&(6u64 << 20).to_string())
    });

    // A name with a path and a direction trick arrives as a plain name, marked as a program.
    let tricky = dir.join("invoice_\u{202E}fdp.exe");
    std::fs::write(&tricky, b"MZ").unwrap();
    ann.send(&format!("send-file --to Hana {}", tricky.display()));
    let offered = hana.expect_where("file_offered", |v| v["transfer"] != transfer);
    assert_eq!(
        (offered["name"].as_str(), offered["risky"].as_bool()),
        (Some("invoice_fdp.exe"), Some(true))
    );
    hana.expect_where("file_received", |v| v["transfer"] == offered["transfer"]);

    // The server never saw the names or the content.
    let log = server.log_text();
    for secret in ["minutes.pdf", "invoice_", "fdp.exe"] {
        assert!(!log.contains(secret), "{secret} in the server's log");
    }
}

#[test]
fn switching_file_transfer_off_stops_a_file_on_its_way() {
    let dir = temp_dir("files-off");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut ann = joins(&dir, &link, "Ann", 2);
    hana.send("set file_transfer on");
    ann.expect_where("policy_changed", |v| v["policy"]["file_transfer"] == true);
    let file = dir.join("big.bin");
    std::fs::write(&file, varied_bytes(12 << 20, 3)).unwrap();
    ann.send(&format!("send-file {}", file.display()));
    let transfer = ann.expect("file_sending")["transfer"].as_u64().unwrap();
    hana.expect_where("file_progress", |v| v["transfer"] == transfer);
    hana.send("set file_transfer off");
    for p in [&mut hana, &mut ann] {
        p.expect_where("file_failed", |v| v["transfer"] == transfer);
    }
    // Nothing arrived half.
    assert!(!hana.seen.iter().any(|v| v["type"] == "file_received"));
}
