//! ASCII facts of a text, found a word at a time: whether it is ASCII (scanned raw by the
//! prefilter, else lowercased first) and whether it has uppercase letters (else it is its own
//! lowercase).

/// Whether text is ASCII, and whether it has ASCII uppercase letters (meaningful only for
/// ASCII text): eight bytes at a time, without branches.
pub(crate) fn case_of(s: &[u8]) -> (bool, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    let (mut high, mut upper) = (0u64, 0u64);
    let mut add = |w: &[u8]| {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        high |= w;
        // In a byte below 0x80, bit 7 of `b + 0x3f` is set from `A` on, and bit 7 of
        // `b + 0x25` from `[` on (no carry crosses bytes).
        upper |= w.wrapping_add(0x3f * ONES) & !w.wrapping_add(0x25 * ONES);
    };
    if s.len() < 8 {
        let mut w = [0u8; 8];
        w[..s.len()].copy_from_slice(s);
        add(&w);
    } else {
        let mut words = s.chunks_exact(8);
        for w in &mut words {
            add(w);
        }
        if !words.remainder().is_empty() {
            // The last eight bytes, again in part.
            add(&s[s.len() - 8..]);
        }
    }
    (high & HIGH == 0, upper & HIGH != 0)
}

#[cfg(test)]
mod tests {
    use super::case_of;

    /// The word-at-a-time answer is the byte-at-a-time one, for every length and position of
    /// the bytes around `A`, `Z` and 0x80.
    #[test]
    fn case_of_agrees_with_a_byte_loop() {
        let bytes = [
            b'@', b'A', b'M', b'Z', b'[', b'a', b'z', b' ', 0x7f, 0xc3, 0xa9,
        ];
        let slow = |s: &[u8]| {
            (
                s.iter().all(|b| b.is_ascii()),
                s.iter().any(|b| b.is_ascii_uppercase()),
            )
        };
        for len in 0..20 {
            for at in 0..len.max(1) {
                for &b in &bytes {
                    let mut s = vec![b'x'; len];
                    if let Some(x) = s.get_mut(at) {
                        *x = b;
                    }
                    let (ascii, upper) = case_of(&s);
                    let (want_ascii, want_upper) = slow(&s);
                    assert_eq!(ascii, want_ascii, "{s:?}");
                    if ascii {
                        assert_eq!(upper, want_upper, "{s:?}");
                    }
                }
            }
        }
    }
}
