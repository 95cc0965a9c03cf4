//! Media end to end, in one process but over real sockets: the real server (signaling and SFU)
//! and two real clients (webrtc-rs peer connections) on loopback, real VP8.

mod video_from_one_participant_is_decoded_by_another;
