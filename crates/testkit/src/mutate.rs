//! Byte-level mutations of real inputs, the fuzzers' classic moves: cut a range, insert junk,
//! duplicate a range elsewhere, flip a bit, truncate. Positions are taken modulo the current
//! length, so every generated op applies to every seed and shrinks towards the start.

use proptest::prelude::*;

/// One mutation (the fields are positions and lengths in bytes, as each variant says).
#[allow(missing_docs, reason = "each variant's doc names its fields")]
#[derive(Debug, Clone)]
pub enum Op {
    /// Remove `len` bytes at `at`.
    Cut { at: usize, len: usize },
    /// Insert `bytes` at `at`.
    Insert { at: usize, bytes: Vec<u8> },
    /// Copy `len` bytes from `from` and insert them `times` times at `to`.
    Duplicate {
        from: usize,
        len: usize,
        to: usize,
        times: usize,
    },
    /// Flip bit `bit` of the byte at `at`.
    Flip { at: usize, bit: u8 },
    /// Keep only the first `at` bytes.
    Truncate { at: usize },
}

/// Junk worth inserting: arbitrary bytes, structure characters, and invalid UTF-8.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        "[\\PC\n\r\t{}\\[\\]\":,|=±⏎━│]{0,16}".prop_map(String::into_bytes),
        prop::sample::select(vec![
            &b"\n"[..],
            b"\r\n",
            b"{",
            b"}",
            b"[",
            b"\"",
            b"|",
            b":",
            b"NaN",
            b"Infinity",
            b"-1",
            b"1e999",
            b"18446744073709551616",
            b"\xff\xfe",
            b"\xe2\x94",
            b"\0",
            b"============ Serving Benchmark Result ============\n",
            b"==================================================\n",
        ])
        .prop_map(<[u8]>::to_vec),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let pos = any::<usize>();
    prop_oneof![
        (pos, 1usize..64).prop_map(|(at, len)| Op::Cut { at, len }),
        (pos, junk()).prop_map(|(at, bytes)| Op::Insert { at, bytes }),
        (pos, 1usize..256, pos, 1usize..4).prop_map(|(from, len, to, times)| Op::Duplicate {
            from,
            len,
            to,
            times
        }),
        (pos, 0u8..8).prop_map(|(at, bit)| Op::Flip { at, bit }),
        pos.prop_map(|at| Op::Truncate { at }),
    ]
}

/// One to eight mutations.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..8)
}

/// Applies `ops` to a copy of `seed`.
pub fn apply(seed: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for op in ops {
        let n = b.len();
        match op {
            Op::Cut { at, len } => {
                let at = at % (n + 1);
                let end = (at + len).min(n);
                b.drain(at..end);
            }
            Op::Insert { at, bytes } => {
                let at = at % (n + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Op::Duplicate {
                from,
                len,
                to,
                times,
            } => {
                let from = from % (n + 1);
                let end = (from + len).min(n);
                let piece = b[from..end].repeat(*times);
                let to = to % (n + 1);
                b.splice(to..to, piece);
            }
            Op::Flip { at, bit } => {
                if n > 0 {
                    b[at % n] ^= 1 << bit;
                }
            }
            Op::Truncate { at } => b.truncate(at % (n + 1)),
        }
    }
    b
}

/// [`apply`], read as text the way the tool reads a file (lossy UTF-8).
pub fn apply_text(seed: &str, ops: &[Op]) -> String {
    String::from_utf8_lossy(&apply(seed.as_bytes(), ops)).into_owned()
}
