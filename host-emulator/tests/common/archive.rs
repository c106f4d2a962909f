//! `.zip` packages built in memory for the tests that deploy code and publish layers, and the
//! base64 the API carries them in.

use std::io::Write;

use base64::Engine;

/// A `.zip` of these entries (name, contents, Unix mode). Every entry has the same fixed
/// time, so the same entries make the same bytes (and `CodeSha256`).
pub fn zip_of<D: AsRef<[u8]>>(entries: &[(&str, D, u32)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, mode) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(*mode)
            .last_modified_time(zip::DateTime::default());
        out.start_file(*name, options).expect("zip entry");
        out.write_all(data.as_ref()).expect("zip data");
    }
    out.finish().expect("zip").into_inner()
}

/// Standard base64, as `ZipFile` fields carry a `.zip`.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `.zip` of one file `name` (mode 0644) holding `len` zero bytes, built directly: a
/// single deflate block of fixed Huffman codes (a literal zero, then copies of 258 bytes at
/// distance 1), so that hundreds of megabytes unzipped take a few milliseconds to make and
/// well under 1 MB zipped. The emulator unzips it as any other `.zip` (its CRC-32 checked).
pub fn zeros_zip(name: &str, len: u64) -> Vec<u8> {
    let data = deflate_zeros(len);
    let crc = zeros_crc32(len);
    let size = |n: u64| u32::try_from(n).expect("a .zip without zip64: under 4 GiB");
    let (compressed, unzipped) = (size(data.len() as u64), size(len));
    let name_len = u16::try_from(name.len()).expect("a short name");
    // Version 2.0, deflate, 1980-01-01 00:00, no extra fields, no comments.
    let mut out = Vec::with_capacity(data.len() + 2 * name.len() + 128);
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]);
    for n in [crc, compressed, unzipped] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&data);
    let central = out.len();
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    // Made by Unix (3), so that the external attributes carry the mode.
    out.extend_from_slice(&[20, 3, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]);
    for n in [crc, compressed, unzipped] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&((0o100_644u32) << 16).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let central_len = size((out.len() - central) as u64);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&size(central as u64).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// A raw deflate stream of `len` zero bytes (one final block with fixed Huffman codes).
fn deflate_zeros(len: u64) -> Vec<u8> {
    let mut bits = Bits::default();
    // BFINAL 1, BTYPE 01 (fixed codes).
    bits.put(0b011, 3);
    // Literal 0 is code 0x30 (8 bits); length 258 is symbol 285, code 0xc5 (8 bits); distance
    // 1 is code 0 (5 bits); the end of the block is symbol 256, code 0 (7 bits).
    let mut left = len;
    if left > 0 {
        bits.code(0x30, 8);
        left -= 1;
    }
    while left >= 258 {
        bits.code(0xc5, 8);
        bits.code(0, 5);
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0x30, 8);
    }
    bits.code(0, 7);
    bits.finish()
}

/// Bits packed as deflate packs them: first bit in a byte's lowest bit.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `count` bits of `value`, lowest first (header fields, extra bits).
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code of `count` bits, highest first.
    fn code(&mut self, code: u32, count: u32) {
        self.put(u64::from(code.reverse_bits() >> (32 - count)), count);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// The CRC-32 of `len` zero bytes, from the CRC of one MiB combined as often as it goes in.
fn zeros_crc32(len: u64) -> u32 {
    const BLOCK: u64 = 1 << 20;
    let hash = |n: u64| {
        let mut h = crc32fast::Hasher::new();
        h.update(&vec![0; n as usize]);
        h
    };
    let block = hash(BLOCK);
    let mut total = crc32fast::Hasher::new();
    for _ in 0..len / BLOCK {
        total.combine(&block);
    }
    total.combine(&hash(len % BLOCK));
    total.finalize()
}
