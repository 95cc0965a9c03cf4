//! Lists the app's commands so capabilities can grant them one by one.
fn main() {
    let commands = &[
        "check_link",
        "list_devices",
        "check_microphone",
        "microphone_level",
        "echo_test",
        "join_meeting",
        "host_meeting",
        "invite_link",
        "meeting_action",
        "current_meeting",
        "opened_link",
        "watch_video",
        "notify",
        "preview_camera",
        "network_addresses",
        "share_sources",
        "save_chat",
        "current_polls",
        "current_notes",
        "save_notes",
        "current_files",
        "save_file",
        "discard_file",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build configuration is valid");
}
