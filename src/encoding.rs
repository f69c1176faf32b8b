//! Encodings every layer uses, written for the hot paths.

/// Lower-case hex. Written out because the `hex` crate's encoder goes one
/// `char` at a time through an iterator, and ids and hashes are made on every
/// login start and request.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
    String::from_utf8(out).unwrap_or_else(|_| unreachable!("hex digits are ASCII"))
}

#[cfg(test)]
mod tests {
    use super::to_hex;

    #[test]
    fn hex_is_the_hex_crates_lower_case() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(to_hex(&bytes), hex::encode(&bytes));
        assert_eq!(to_hex(&[]), "");
    }
}
