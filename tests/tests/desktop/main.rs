//! The real desktop window under Xvfb, driven through tauri-driver and WebKitWebDriver as a
//! person would use it, with real `parley-cli` participants. One behaviour per file.
//! Screenshots of each screen go to `target/e2e-artifacts/<test>/`.

mod a_breakout_room_in_the_window;
mod a_clicked_invite_opens_in_the_running_app;
mod common;
mod files_in_the_window;
mod host_runs_a_meeting_from_the_app;
mod notes_in_the_window;
mod polls_in_the_window;
mod recording_is_shown_to_whoever_comes_later;
mod speaker_view_follows_who_speaks;
mod the_app_a_browser_guest_and_a_cli_host_meet;
mod the_app_comes_back_after_its_connection_drops;
mod the_app_hosts_for_the_local_network;
mod the_app_hosts_on_a_meeting_server;
mod the_app_joins_by_a_pasted_link;
mod the_app_records_with_consent;
mod the_app_talks_only_to_the_meeting_server;
mod the_app_uses_the_devices_picked_before_joining;
mod the_chat_is_saved_only_while_the_host_allows_it;
mod the_host_is_notified_when_someone_waits;
mod the_host_runs_an_event;
mod the_host_shares_one_window;
mod the_host_shares_the_screen;
mod the_installed_package_starts;
mod the_waiting_toast_admits_the_one_it_announced;
