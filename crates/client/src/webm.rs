//! A small WebM (Matroska) writer for a local recording: one VP8 video track and one Opus
//! audio track, frames as received (no re-encoding), and the reader the tests use to check
//! what was written.
//!
//! The layout: the EBML header (DocType `webm`), a Segment of unknown size (the file grows as
//! the meeting goes on, as live WebM does), Info (1 ms timecodes), Tracks, then Clusters, each
//! written whole with its size once it closes: at a video keyframe after two seconds, or
//! before its relative timecodes would overflow. Times are milliseconds since the recording
//! began, from when each frame arrived, so picture and sound stay together.

use std::io::{self, Write};

/// Track number of the video.
pub const VIDEO_TRACK: u64 = 1;
/// Track number of the audio.
pub const AUDIO_TRACK: u64 = 2;
/// A cluster is closed at a keyframe once it holds this much.
const CLUSTER_MS: u64 = 2_000;
/// A cluster is closed before its relative timecodes (i16) could overflow.
const CLUSTER_MAX_MS: u64 = 30_000;

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const MUXING_APP: u32 = 0x4D80;
const WRITING_APP: u32 = 0x5741;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_UID: u32 = 0x73C5;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const CODEC_DELAY: u32 = 0x56AA;
const SEEK_PRE_ROLL: u32 = 0x56BB;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const AUDIO: u32 = 0xE1;
const SAMPLING_FREQUENCY: u32 = 0xB5;
const CHANNELS: u32 = 0x9F;
const CLUSTER: u32 = 0x1F43_B675;
const TIMECODE: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(3);
    b[skip..].to_vec()
}

/// An element: its id, its size as an 8-byte EBML number, its content.
fn element(id: u32, content: &[u8]) -> Vec<u8> {
    let mut out = id_bytes(id);
    let size = content.len() as u64;
    out.push(0x01);
    out.extend_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(content);
    out
}

fn uint(id: u32, v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().position(|&x| x != 0).unwrap_or(7);
    element(id, &b[skip..])
}

fn float(id: u32, v: f64) -> Vec<u8> {
    element(id, &v.to_be_bytes())
}

fn text(id: u32, v: &str) -> Vec<u8> {
    element(id, v.as_bytes())
}

/// The Opus identification header (RFC 7845 §5.1) for 48 kHz mono.
fn opus_head() -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1); // version
    h.push(1); // channels
    h.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    h.extend_from_slice(&48_000u32.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain
    h.push(0); // channel mapping family
    h
}

/// Writes one participant's recording.
#[derive(Debug)]
pub struct WebmWriter<W: Write> {
    out: W,
    /// The open cluster: its start (ms) and its blocks so far.
    cluster: Option<(u64, Vec<u8>)>,
}

impl<W: Write> WebmWriter<W> {
    /// Start a file with a video track of `width` x `height` and a 48 kHz mono Opus track.
    pub fn new(mut out: W, width: u16, height: u16) -> io::Result<Self> {
        let header = [
            uint(0x4286, 1),
            uint(0x42F7, 1),
            uint(0x42F2, 4),
            uint(0x42F3, 8),
            text(0x4282, "webm"),
            uint(0x4287, 4),
            uint(0x4285, 2),
        ]
        .concat();
        out.write_all(&element(EBML, &header))?;
        // The Segment's size is unknown: all 1s.
        out.write_all(&id_bytes(SEGMENT))?;
        out.write_all(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])?;
        let info = [
            uint(TIMECODE_SCALE, 1_000_000),
            text(MUXING_APP, "parley"),
            text(WRITING_APP, "parley"),
        ]
        .concat();
        out.write_all(&element(INFO, &info))?;
        let video = [
            uint(TRACK_NUMBER, VIDEO_TRACK),
            uint(TRACK_UID, VIDEO_TRACK),
            uint(TRACK_TYPE, 1),
            text(CODEC_ID, "V_VP8"),
            element(
                VIDEO,
                &[
                    uint(PIXEL_WIDTH, u64::from(width)),
                    uint(PIXEL_HEIGHT, u64::from(height)),
                ]
                .concat(),
            ),
        ]
        .concat();
        let audio = [
            uint(TRACK_NUMBER, AUDIO_TRACK),
            uint(TRACK_UID, AUDIO_TRACK),
            uint(TRACK_TYPE, 2),
            text(CODEC_ID, "A_OPUS"),
            element(CODEC_PRIVATE, &opus_head()),
            uint(CODEC_DELAY, 6_500_000),
            uint(SEEK_PRE_ROLL, 80_000_000),
            element(
                AUDIO,
                &[float(SAMPLING_FREQUENCY, 48_000.0), uint(CHANNELS, 1)].concat(),
            ),
        ]
        .concat();
        let tracks = [element(TRACK_ENTRY, &video), element(TRACK_ENTRY, &audio)].concat();
        out.write_all(&element(TRACKS, &tracks))?;
        Ok(WebmWriter { out, cluster: None })
    }

    /// A VP8 frame that arrived `ms` after the recording began.
    pub fn video(&mut self, ms: u64, keyframe: bool, frame: &[u8]) -> io::Result<()> {
        let due = match &self.cluster {
            None => true,
            Some((start, _)) => {
                let age = ms.saturating_sub(*start);
                (keyframe && age >= CLUSTER_MS) || age >= CLUSTER_MAX_MS
            }
        };
        if due {
            self.close_cluster()?;
            self.cluster = Some((ms, Vec::new()));
        }
        self.block(VIDEO_TRACK, ms, keyframe, frame)
    }

    /// An Opus packet that arrived `ms` after the recording began (before the first picture
    /// it opens a cluster of its own).
    pub fn audio(&mut self, ms: u64, packet: &[u8]) -> io::Result<()> {
        let due = match &self.cluster {
            None => true,
            Some((start, _)) => ms.saturating_sub(*start) >= CLUSTER_MAX_MS,
        };
        if due {
            self.close_cluster()?;
            self.cluster = Some((ms, Vec::new()));
        }
        self.block(AUDIO_TRACK, ms, true, packet)
    }

    fn block(&mut self, track: u64, ms: u64, keyframe: bool, data: &[u8]) -> io::Result<()> {
        let Some((start, blocks)) = &mut self.cluster else {
            return Ok(());
        };
        // Frames of one track arrive in order; one that came a moment before the cluster's
        // first (the other track) is written at the cluster's start.
        let rel = i16::try_from(ms.saturating_sub(*start)).unwrap_or(i16::MAX);
        let mut content = vec![0x80 | track as u8];
        content.extend_from_slice(&rel.to_be_bytes());
        content.push(if keyframe { 0x80 } else { 0 });
        content.extend_from_slice(data);
        blocks.extend_from_slice(&element(SIMPLE_BLOCK, &content));
        Ok(())
    }

    fn close_cluster(&mut self) -> io::Result<()> {
        if let Some((start, blocks)) = self.cluster.take() {
            let content = [uint(TIMECODE, start), blocks].concat();
            self.out.write_all(&element(CLUSTER, &content))?;
        }
        Ok(())
    }

    /// Write what is held and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.close_cluster()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

pub use parley_proto::vp8::vp8_keyframe_size;

/// One block read back: its track, its time in ms, whether it is a keyframe, its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// [`VIDEO_TRACK`] or [`AUDIO_TRACK`].
    pub track: u64,
    /// Milliseconds since the recording began.
    pub ms: i64,
    /// A keyframe (always set for audio).
    pub keyframe: bool,
    /// The frame or packet.
    pub data: Vec<u8>,
}

/// What a WebM file holds, read back: the video's size, the codecs, and every block in order.
#[derive(Debug, Default)]
pub struct Contents {
    /// DocType of the EBML header.
    pub doc_type: String,
    /// Codec ids of the tracks, by track number.
    pub codecs: Vec<(u64, String)>,
    /// PixelWidth and PixelHeight of the video track.
    pub size: Option<(u64, u64)>,
    /// The blocks.
    pub blocks: Vec<Block>,
}

/// Read an EBML variable-size number at `at`: (value, length); the marker bit is kept in ids.
fn vint(b: &[u8], at: usize, keep_marker: bool) -> Option<(u64, usize)> {
    let first = *b.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut v = if keep_marker {
        u64::from(first)
    } else {
        u64::from(first) & (0xFF_u64 >> len)
    };
    for i in 1..len {
        v = (v << 8) | u64::from(*b.get(at + i)?);
    }
    Some((v, len))
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |v, &x| (v << 8) | u64::from(x))
}

/// Read a WebM file as this module writes it (and as other muxers do for these elements):
/// `None` if it is not EBML at all. Unknown elements are skipped.
pub fn read(b: &[u8]) -> Option<Contents> {
    let mut c = Contents::default();
    let mut track = 0u64;
    walk(b, 0, b.len(), &mut c, &mut track, 0)?;
    Some(c)
}

const UNKNOWN: u64 = (1 << 56) - 1;

fn walk(
    b: &[u8],
    mut at: usize,
    end: usize,
    c: &mut Contents,
    track: &mut u64,
    cluster_ms: i64,
) -> Option<()> {
    let mut cluster_ms = cluster_ms;
    while at < end {
        let (id, idl) = vint(b, at, true)?;
        let (size, szl) = vint(b, at + idl, false)?;
        let start = at + idl + szl;
        let stop = if size == UNKNOWN {
            end
        } else {
            (start + size as usize).min(end)
        };
        let body = b.get(start..stop)?;
        match id as u32 {
            EBML | SEGMENT | INFO | TRACKS | VIDEO | AUDIO => {
                walk(b, start, stop, c, track, cluster_ms)?;
            }
            CLUSTER => walk(b, start, stop, c, track, 0)?,
            TRACK_ENTRY => {
                *track = 0;
                walk(b, start, stop, c, track, cluster_ms)?;
            }
            0x4282 => c.doc_type = String::from_utf8_lossy(body).into_owned(),
            TRACK_NUMBER => *track = be(body),
            CODEC_ID => c
                .codecs
                .push((*track, String::from_utf8_lossy(body).into_owned())),
            PIXEL_WIDTH => c.size = Some((be(body), c.size.map_or(0, |s| s.1))),
            PIXEL_HEIGHT => c.size = Some((c.size.map_or(0, |s| s.0), be(body))),
            TIMECODE => {
                cluster_ms = be(body) as i64;
                // The cluster's blocks follow; they are read with this time.
                return walk(b, stop, end, c, track, cluster_ms);
            }
            SIMPLE_BLOCK => {
                let (t, tl) = vint(body, 0, false)?;
                let rel = i16::from_be_bytes([*body.get(tl)?, *body.get(tl + 1)?]);
                let flags = *body.get(tl + 2)?;
                c.blocks.push(Block {
                    track: t,
                    ms: cluster_ms + i64::from(rel),
                    keyframe: flags & 0x80 != 0,
                    data: body.get(tl + 3..)?.to_vec(),
                });
            }
            _ => {}
        }
        at = stop;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 keyframe header declaring 320x180 (the rest is not a picture).
    fn keyframe() -> Vec<u8> {
        let mut f = vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a];
        f.extend_from_slice(&320u16.to_le_bytes());
        f.extend_from_slice(&180u16.to_le_bytes());
        f.extend_from_slice(&[7; 20]);
        f
    }

    #[test]
    fn what_is_written_reads_back_in_order_with_its_times_and_tracks() {
        let mut w = WebmWriter::new(Vec::new(), 320, 180).unwrap();
        w.audio(0, b"opus0").unwrap();
        w.video(5, true, &keyframe()).unwrap();
        w.audio(20, b"opus1").unwrap();
        w.video(38, false, b"delta").unwrap();
        // Past two seconds, the next keyframe opens a new cluster; past 30 s anything does.
        w.video(2_100, true, &keyframe()).unwrap();
        w.audio(35_000, b"late").unwrap();
        let bytes = w.finish().unwrap();
        let c = read(&bytes).expect("reads back");
        assert_eq!(c.doc_type, "webm");
        assert_eq!(c.size, Some((320, 180)));
        assert_eq!(
            c.codecs,
            [(1, "V_VP8".to_string()), (2, "A_OPUS".to_string())]
        );
        let seen: Vec<(u64, i64, bool)> = c
            .blocks
            .iter()
            .map(|b| (b.track, b.ms, b.keyframe))
            .collect();
        assert_eq!(
            seen,
            [
                (2, 0, true),
                (1, 5, true),
                (2, 20, true),
                (1, 38, false),
                (1, 2_100, true),
                (2, 35_000, true)
            ]
        );
        assert_eq!(c.blocks[3].data, b"delta");
        assert_eq!(vp8_keyframe_size(&keyframe()), Some((320, 180)));
        assert_eq!(vp8_keyframe_size(b"delta-frame"), None);
    }

    #[test]
    fn garbage_is_not_read_as_a_recording() {
        assert!(read(&[0xFF, 0x00, 0x13]).is_none_or(|c| c.blocks.is_empty()));
        assert!(read(&[]).is_some_and(|c| c.blocks.is_empty()));
    }
}
