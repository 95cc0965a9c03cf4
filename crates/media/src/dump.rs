//! Writing media to files to check by eye and ear: decoded pictures as PNG, decoded audio as
//! WAV (16-bit mono, 48 kHz).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use crate::frame::{SAMPLE_RATE, VideoFrame};

/// The frame as packed 8-bit RGB (BT.601, studio range), row by row.
pub fn to_rgb(frame: &VideoFrame) -> Vec<u8> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let cw = w.div_ceil(2);
    let y_plane = &frame.data[..w * h];
    let c = cw * h.div_ceil(2);
    let u_plane = &frame.data[w * h..w * h + c];
    let v_plane = &frame.data[w * h + c..w * h + 2 * c];
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        for col in 0..w {
            let y = f32::from(y_plane[row * w + col]) - 16.0;
            let ci = (row / 2) * cw + col / 2;
            let u = f32::from(u_plane[ci]) - 128.0;
            let v = f32::from(v_plane[ci]) - 128.0;
            let y = 1.164 * y;
            for x in [y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u] {
                rgb.push(x.clamp(0.0, 255.0) as u8);
            }
        }
    }
    rgb
}

/// Write `frame` to `path` as a PNG.
pub fn write_png(frame: &VideoFrame, path: &Path) -> std::io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let mut enc = png::Encoder::new(file, frame.width, frame.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(std::io::Error::other)?;
    w.write_image_data(&to_rgb(frame))
        .map_err(std::io::Error::other)?;
    w.finish().map_err(std::io::Error::other)
}

/// A 16-bit PCM WAV file read whole: its rate, its channel count and the interleaved samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub rate: u32,
    /// Channels, interleaved in `samples`.
    pub channels: u16,
    /// The samples.
    pub samples: Vec<i16>,
}

impl Wav {
    /// The samples mixed down to mono.
    pub fn mono(&self) -> Vec<i16> {
        let ch = usize::from(self.channels.max(1));
        self.samples
            .chunks(ch)
            .map(|f| (f.iter().map(|&s| i32::from(s)).sum::<i32>() / ch as i32) as i16)
            .collect()
    }
}

/// Read a 16-bit PCM WAV file (at most [`MAX_WAV_SAMPLES`] samples). A data chunk whose length
/// says "unknown" (what a program writing to a pipe puts there) is read to the end of the file.
pub fn read_wav(path: &Path) -> std::io::Result<Wav> {
    let bytes = std::fs::read(path)?;
    parse_wav(&bytes).map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidData, why))
}

fn parse_wav(bytes: &[u8]) -> Result<Wav, &'static str> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a WAV file");
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = at + 8;
        if id == b"fmt " {
            let f = bytes
                .get(body..body + 16)
                .ok_or("the WAV format chunk is cut short")?;
            let le16 = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
            let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
            format = Some((le16(0), le16(2), rate, le16(14)));
        } else if id == b"data" {
            let (kind, channels, rate, bits) =
                format.ok_or("the WAV data comes before its format")?;
            if !(kind == 1 || kind == 0xFFFE) || bits != 16 || channels == 0 || rate == 0 {
                return Err("only 16-bit PCM WAV files are read");
            }
            let end = body.saturating_add(len).min(bytes.len());
            let limit = MAX_WAV_SAMPLES as usize * 2;
            let data = &bytes[body..end.min(body + limit)];
            let samples = data
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            return Ok(Wav {
                rate,
                channels,
                samples,
            });
        }
        at = body.saturating_add(len + (len & 1));
    }
    Err("the WAV file has no data")
}

/// Most audio one WAV file takes (an hour), so a forgotten dump cannot fill the disk.
pub const MAX_WAV_SAMPLES: u64 = 3600 * SAMPLE_RATE as u64;

/// A WAV file being written; its header is kept valid as it grows, so it plays even if the
/// program is killed.
#[derive(Debug)]
pub struct WavWriter {
    file: BufWriter<File>,
    samples: u64,
    unpatched: u64,
}

fn header(samples: u64) -> [u8; 44] {
    let data = (samples * 2) as u32;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

impl WavWriter {
    /// Create (or replace) the file at `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all(&header(0))?;
        Ok(WavWriter {
            file,
            samples: 0,
            unpatched: 0,
        })
    }

    /// Append samples (beyond [`MAX_WAV_SAMPLES`] they are dropped).
    pub fn write(&mut self, pcm: &[i16]) -> std::io::Result<()> {
        let room = MAX_WAV_SAMPLES - self.samples;
        let pcm = &pcm[..pcm.len().min(room as usize)];
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.file.write_all(&bytes)?;
        self.samples += pcm.len() as u64;
        self.unpatched += pcm.len() as u64;
        if self.unpatched >= u64::from(SAMPLE_RATE) {
            self.flush()?;
        }
        Ok(())
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Write the header for what has been written and flush it all to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.unpatched = 0;
        self.file.flush()?;
        let f = self.file.get_mut();
        let end = f.stream_position()?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&header(self.samples))?;
        f.seek(SeekFrom::Start(end))?;
        Ok(())
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_file_holds_what_was_written_with_a_valid_header() {
        let dir = std::env::temp_dir().join(format!("parley-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wav");
        let mut w = WavWriter::create(&path).unwrap();
        w.write(&[1, -2, 3]).unwrap();
        w.write(&[i16::MIN, i16::MAX]).unwrap();
        drop(w);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 44 + 10);
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 10);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 10);
        let samples: Vec<i16> = bytes[44..]
            .chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(samples, vec![1, -2, 3, i16::MIN, i16::MAX]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_was_written_reads_back_and_garbage_is_refused() {
        let dir = std::env::temp_dir().join(format!("parley-wav-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wav");
        let mut w = WavWriter::create(&path).unwrap();
        w.write(&[5, -6, 7, 8]).unwrap();
        drop(w);
        let wav = read_wav(&path).unwrap();
        assert_eq!((wav.rate, wav.channels), (SAMPLE_RATE, 1));
        assert_eq!(wav.samples, vec![5, -6, 7, 8]);
        // A stereo file with an "unknown" data length, as a pipe writer leaves it.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[22] = 2;
        bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        let wav = parse_wav(&bytes).unwrap();
        assert_eq!(wav.mono(), vec![-0, 7]);
        assert!(parse_wav(b"RIFF\0\0\0\0WAVEdata").is_err());
        assert!(parse_wav(&bytes[..30]).is_err());
        assert!(parse_wav(b"hello").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_png_decodes_back_to_the_frame_colours() {
        let dir = std::env::temp_dir().join(format!("parley-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.png");
        let black = VideoFrame::black(8, 6);
        write_png(&black, &path).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (8, 6));
        assert!(
            buf[..info.buffer_size()].iter().all(|&b| b == 0),
            "black is black"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
