//! Scenario tests of the room state machine: one behaviour per file, named as a sentence, on a
//! harness with virtual time and no sockets.

mod harness;

mod admit_all_admits_everyone_up_to_capacity;
mod chat_switches_are_enforced;
mod deny_sends_away_and_blocks_knocking_again;
mod ended_meeting_refuses_joins;
mod host_commands_from_participants_are_refused;
mod host_drop_promotes_cohost;
mod host_reclaims_with_secret;
mod locked_meeting_refuses_even_the_waiting_room;
mod mute_all_holds_until_host_allows;
mod participant_switches_are_enforced;
mod passcode_is_required_and_wrong_attempts_back_off;
mod removed_participant_cannot_rejoin;
mod the_creators_secret_always_wins_the_meeting_back;
mod the_server_orders_the_encryption_group_without_reading_it;
mod transfer_host_rotates_secret;
mod video_is_forwarded_only_for_tiles_on_screen;
mod waiting_people_get_no_media;
mod waiting_people_see_and_send_nothing;
mod waiting_room_holds_newcomers_until_admitted;
