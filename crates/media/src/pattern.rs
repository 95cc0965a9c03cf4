//! A moving test pattern that carries its own sequence number and capture time.
//!
//! Each frame has the participant's colour as background, a bright bar that moves one step per
//! frame (so the encoder has motion to code), a textured lower half with fresh grain in every
//! frame (as a camera's sensor gives, so the encoder spends its whole bitrate as it would on a
//! real picture), and in the top-left corner a block code: 72
//! black-or-white cells holding the frame's sequence number, its capture time in milliseconds
//! and a CRC-8. The cells are large enough to survive lossy VP8 coding, so a receiver can read
//! which frame it shows and when it was captured, and so measure loss, order and latency.

use crate::frame::VideoFrame;
use crate::source::{SourceError, VideoSource};

/// Cells per row of the block code.
const CELLS_PER_ROW: u32 = 24;
/// Rows of the block code.
const ROWS: u32 = 3;
/// Bits in the block code: 32 sequence + 32 time + 8 CRC.
const BITS: u32 = CELLS_PER_ROW * ROWS;

/// What the block code of a frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Frame number, from 0.
    pub seq: u32,
    /// Capture time in milliseconds on the sender's media clock (wrapping at 2³²).
    pub capture_ms: u32,
}

/// A synthetic camera.
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: u32,
    height: u32,
    colour: (u8, u8, u8),
    seq: u32,
}

impl TestPattern {
    /// A `width`×`height` pattern (both even, at least 96×48) with a background colour picked
    /// from `participant` so each sender looks different.
    pub fn new(width: u32, height: u32, participant: u32) -> Self {
        assert!(
            width >= 96 && height >= 48 && width.is_multiple_of(2) && height.is_multiple_of(2),
            "test pattern size {width}x{height}: need even sizes of at least 96x48"
        );
        // Spread participants over hues; keep luma mid-range so the code cells stand out.
        let h = participant.wrapping_mul(2_654_435_761);
        let u = 64 + (h >> 8) as u8 % 128;
        let v = 64 + (h >> 16) as u8 % 128;
        TestPattern {
            width,
            height,
            colour: (110, u, v),
            seq: 0,
        }
    }

    /// The chroma (U, V) of this pattern's background.
    pub fn colour(&self) -> (u8, u8) {
        (self.colour.1, self.colour.2)
    }

    fn cell(width: u32) -> u32 {
        // Half the width for the code, cells of even size, at least 4 pixels.
        ((width / 2 / CELLS_PER_ROW) & !1).max(4)
    }

    /// Draw frame `seq` captured at `capture_us`.
    pub fn draw(&self, seq: u32, capture_us: u64) -> VideoFrame {
        let (w, h) = (self.width, self.height);
        let mut f = VideoFrame::black(w, h);
        f.capture_us = capture_us;
        f.y_mut().fill(self.colour.0);
        {
            let (u, v) = f.uv_mut();
            u.fill(self.colour.1);
            v.fill(self.colour.2);
        }
        // The moving bar: 1/16 of the width, bright, below the code.
        let bar_w = (w / 16).max(2);
        let x0 = (seq * 7) % (w - bar_w);
        let y0 = Self::cell(w) * (ROWS + 1);
        let y = f.y_mut();
        let mut grain = seq.wrapping_mul(0x9E37_79B9) | 1;
        for row in y0..h {
            let line = &mut y[(row * w) as usize..((row + 1) * w) as usize];
            if row >= h / 2 {
                for (x, px) in line.iter_mut().enumerate() {
                    grain ^= grain << 13;
                    grain ^= grain >> 17;
                    grain ^= grain << 5;
                    // 8×8 checks of two greys, scrolling 3 pixels a frame, plus ±2 of grain.
                    let check = ((x as u32 + seq * 3) / 8 + row / 8) % 2;
                    *px = (70 + check * 80 + (grain >> 30)) as u8 - 2;
                }
            }
            line[x0 as usize..(x0 + bar_w) as usize].fill(235);
        }
        let stamp = Stamp {
            seq,
            capture_ms: (capture_us / 1000) as u32,
        };
        write_code(&mut f, stamp);
        f
    }
}

impl VideoSource for TestPattern {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn next_frame(&mut self, capture_us: u64) -> Result<VideoFrame, SourceError> {
        let f = self.draw(self.seq, capture_us);
        self.seq = self.seq.wrapping_add(1);
        Ok(f)
    }
}

fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn payload(stamp: Stamp) -> [u8; 9] {
    let mut p = [0u8; 9];
    p[..4].copy_from_slice(&stamp.seq.to_be_bytes());
    p[4..8].copy_from_slice(&stamp.capture_ms.to_be_bytes());
    p[8] = crc8(&p[..8]);
    p
}

fn write_code(f: &mut VideoFrame, stamp: Stamp) {
    let cell = TestPattern::cell(f.width);
    let bits = payload(stamp);
    let w = f.width;
    let y = f.y_mut();
    for i in 0..BITS {
        let bit = bits[(i / 8) as usize] >> (7 - i % 8) & 1;
        let value = if bit == 1 { 235 } else { 16 };
        let (cx, cy) = ((i % CELLS_PER_ROW) * cell, (i / CELLS_PER_ROW) * cell);
        for row in cy..cy + cell {
            let start = (row * w + cx) as usize;
            y[start..start + cell as usize].fill(value);
        }
    }
}

/// Read the block code of a (possibly decoded, lossy) frame. `None` if it does not check out.
pub fn read_stamp(f: &VideoFrame) -> Option<Stamp> {
    let cell = TestPattern::cell(f.width);
    if cell * CELLS_PER_ROW > f.width || cell * ROWS > f.height {
        return None;
    }
    let mut bits = [0u8; 9];
    let y = f.y();
    for i in 0..BITS {
        let (cx, cy) = ((i % CELLS_PER_ROW) * cell, (i / CELLS_PER_ROW) * cell);
        // Average the cell's inner half, away from edges the codec smears.
        let (m0, m1) = (cell / 4, cell - cell / 4);
        let mut sum = 0u32;
        let mut n = 0u32;
        for row in cy + m0..cy + m1 {
            for col in cx + m0..cx + m1 {
                sum += u32::from(y[(row * f.width + col) as usize]);
                n += 1;
            }
        }
        if sum / n.max(1) > 125 {
            bits[(i / 8) as usize] |= 1 << (7 - i % 8);
        }
    }
    if crc8(&bits[..8]) != bits[8] {
        return None;
    }
    Some(Stamp {
        seq: u32::from_be_bytes([bits[0], bits[1], bits[2], bits[3]]),
        capture_ms: u32::from_be_bytes([bits[4], bits[5], bits[6], bits[7]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_at_common_sizes() {
        for (w, h) in [(320, 180), (640, 360), (1280, 720), (96, 48)] {
            let mut p = TestPattern::new(w, h, 3);
            for seq in 0..5u32 {
                let us = u64::from(seq) * 33_333 + 1_000_000;
                let f = p.next_frame(us).unwrap();
                assert_eq!(
                    read_stamp(&f),
                    Some(Stamp {
                        seq,
                        capture_ms: (us / 1000) as u32
                    }),
                    "{w}x{h} frame {seq}"
                );
            }
        }
    }

    #[test]
    fn a_damaged_code_is_rejected_not_misread() {
        let p = TestPattern::new(640, 360, 1);
        let mut f = p.draw(12345, 0);
        // Flip one cell.
        let cell = TestPattern::cell(640) as usize;
        for row in 0..cell {
            for col in 0..cell {
                let v = &mut f.y_mut()[row * 640 + col];
                *v = 255 - *v;
            }
        }
        assert_eq!(read_stamp(&f), None);
    }

    #[test]
    fn participants_get_different_colours() {
        let a = TestPattern::new(320, 180, 1).colour();
        let b = TestPattern::new(320, 180, 2).colour();
        assert_ne!(a, b);
    }

    #[test]
    fn the_bar_moves() {
        let p = TestPattern::new(320, 180, 1);
        assert_ne!(p.draw(0, 0).data, p.draw(1, 0).data);
    }
}
