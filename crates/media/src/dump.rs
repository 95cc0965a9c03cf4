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
