//! Human byte sizes for command-line flags and environment variables:
//! `1048576`, `64K`, `8MiB`, `1G`. Like systemd, every suffix is a power of
//! 1024 (`K`, `KB` and `KiB` all mean 1024 bytes), so `8M` in a flag means
//! what an operator expects. The config file itself takes plain integers.

/// Parses a byte size: digits, optional spaces, optional suffix
/// (`B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`;
/// case-insensitive).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!(
            "{s:?} is not a byte size (e.g. 65536, 64K, 8MiB, 1G)"
        ));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is too large for a byte size"))?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown size suffix {other:?} in {s:?} (use K, M, G or T; all powers of 1024)"
            ))
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large for a byte size"))
}

/// Like [`parse_bytes`] but for `u32` settings (e.g. the frame limit).
pub fn parse_bytes_u32(s: &str) -> Result<u32, String> {
    let n = parse_bytes(s)?;
    u32::try_from(n).map_err(|_| format!("{s:?} is too large (at most 4GiB - 1)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("64K"), Ok(64 << 10));
        assert_eq!(parse_bytes("8MiB"), Ok(8 << 20));
        assert_eq!(parse_bytes("8 mb"), Ok(8 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("2TiB"), Ok(2 << 40));
        assert_eq!(parse_bytes("0"), Ok(0));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse_bytes("").unwrap_err().contains("not a byte size"));
        assert!(parse_bytes("MiB").unwrap_err().contains("not a byte size"));
        assert!(parse_bytes("5X")
            .unwrap_err()
            .contains("unknown size suffix"));
        assert!(parse_bytes("99999999999999999999")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_bytes("16777216T").unwrap_err().contains("too large"));
        assert!(parse_bytes_u32("4G").unwrap_err().contains("too large"));
        assert_eq!(parse_bytes_u32("1M"), Ok(1 << 20));
    }
}
