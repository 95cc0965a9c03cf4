//! Cross-process tests: the real `parley-server` binary, real `parley-cli` processes and raw
//! WebSocket clients, all on loopback. One behaviour per file.

mod a_leaver_disappears_from_everyones_media;
mod devices_switch_during_a_call;
mod hard_mute_is_enforced_by_the_server;
mod host_reclaims_the_meeting_after_a_restart;
mod hostile_clients_are_refused_and_others_carry_on;
mod locked_meeting_refuses_newcomers;
mod logs_carry_no_personal_data;
mod participants_see_and_hear_each_other;
mod relay_only_media_goes_through_the_relay_or_not_at_all;
mod removed_participant_cannot_rejoin;
mod slow_client_is_disconnected;
mod standalone_server_requires_an_api_token;
mod the_cli_checks_devices_with_an_echo_test;
mod three_participants_each_receive_the_other_two;
mod tls_server_is_joined_over_wss;
mod unfinished_messages_cannot_hold_the_server;
mod waiting_room_then_admit;
mod web_pages_from_other_sites_cannot_open_signaling;
mod wrong_passcodes_are_rate_limited;
