//! The plumbing our webrtc-rs interceptors share: a [`Tap`] says what to do with each packet
//! that passes; [`Tapped`] queues them through the interceptor chain (webrtc-rs's sans-I/O
//! `Protocol`) and forwards stream bindings.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};

/// What an interceptor does with the packets passing through it.
pub(crate) trait Tap: Send + Sync + 'static {
    /// An incoming packet (from the network towards the application); `false` drops it.
    fn read(&mut self, _msg: &mut TaggedPacket) -> bool {
        true
    }
    /// An outgoing packet (from the application towards the network).
    fn write(&mut self, _msg: &mut TaggedPacket) {}
    /// One of our streams was bound (see webrtc-rs's `Interceptor::bind_local_stream`).
    fn bind_local(&mut self, _info: &StreamInfo) {}
    /// One of our streams was unbound.
    fn unbind_local(&mut self, _info: &StreamInfo) {}
}

/// A [`Tap`] as an interceptor.
pub(crate) struct Tapped<T> {
    pub(crate) tap: T,
    r: VecDeque<TaggedPacket>,
    w: VecDeque<TaggedPacket>,
}

impl<T> Tapped<T> {
    /// `tap` in the chain.
    pub(crate) fn new(tap: T) -> Self {
        Tapped {
            tap,
            r: VecDeque::new(),
            w: VecDeque::new(),
        }
    }
}

impl<T: Tap> rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for Tapped<T> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if self.tap.read(&mut msg) {
            self.r.push_back(msg);
        }
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.r.pop_front()
    }
    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        self.tap.write(&mut msg);
        self.w.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.w.pop_front()
    }
}

impl<T: Tap> Interceptor for Tapped<T> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.tap.bind_local(info);
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.tap.unbind_local(info);
    }
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}
