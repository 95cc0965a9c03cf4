//! Media end to end, in one process but over real sockets: the real server (signaling and SFU)
//! and two real clients (webrtc-rs peer connections) on loopback, real VP8.

mod common;

mod a_constrained_uplink_lowers_the_video_bitrate;
mod a_late_joiner_gets_a_keyframe_at_once;
mod a_narrow_downlink_gets_the_smaller_layers;
mod a_panic_during_a_meeting_fails_the_test;
mod a_participant_is_seen_and_heard_by_another;
mod a_participant_with_real_devices_hears_and_is_heard;
mod a_removed_participant_is_not_forwarded;
mod garbage_at_the_media_port_disturbs_nobody;
mod media_comes_back_when_the_network_changes;
mod media_flows_through_a_turn_relay;
mod media_survives_ten_percent_loss;
mod meetings_spread_over_the_media_workers;
mod one_meeting_spans_the_media_workers;
mod only_the_loudest_voices_are_heard;
mod simulcast_fits_each_tile;
mod speech_survives_twenty_percent_loss;
mod the_rate_follows_a_link_that_narrows_and_widens;
mod the_server_forwards_what_it_cannot_read;
mod video_off_screen_is_not_sent;
