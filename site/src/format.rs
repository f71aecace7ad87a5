//! Fixed text rules for everything the site prints: numbers, times, hashes, file names.
//!
//! Every function here is total and pure. Numbers go through Rust's `{:.N}` formatting, which
//! is exact (the decimal nearest the binary value, ties to even), so the same `f64` prints the
//! same on every machine; nothing here calls libm.

use albedo_projections::views::iso_time;

/// The minus sign of signed figures (U+2212), so `−0.12` and `+0.12` line up in tabular
/// numerals.
const MINUS: char = '\u{2212}';

/// `x` with exactly `decimals` decimals; `n/a` when not finite. Never prints a negative zero.
pub fn fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let text = format!("{x:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        Some(rest) => format!("{MINUS}{rest}"),
        None => text,
    }
}

/// `x` with an explicit sign: `+0.2481`, `−0.0120`, `0.0000`.
pub fn signed(x: f64, decimals: usize) -> String {
    let text = fixed(x, decimals);
    if text.starts_with(MINUS) || text == "n/a" || text.bytes().all(|b| b == b'0' || b == b'.') {
        text
    } else {
        format!("+{text}")
    }
}

/// A share in [0, 1] as a percentage: `45.0%`.
pub fn percent(share: f64, decimals: usize) -> String {
    if !share.is_finite() {
        return "n/a".into();
    }
    format!("{}%", fixed(share * 100.0, decimals))
}

/// A score on the 0–100 scale, or a dash when absent.
pub fn score(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "—".into(), |x| fixed(x, decimals))
}

/// The first `n` characters of `text`, with an ellipsis when cut.
pub fn short(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// `sha256:4bf5122f3445…`: the algorithm and the first 12 hex digits.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", short(hex, 12)),
        None => short(digest, 12),
    }
}

/// `5GrwvaEF…KutQY`: enough of an SS58 hotkey to tell it apart, for tables.
pub fn short_hotkey(hotkey: &str) -> String {
    let chars: Vec<char> = hotkey.chars().collect();
    if chars.len() <= 14 {
        return hotkey.to_string();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 5..].iter().collect();
    format!("{head}…{tail}")
}

/// A length of time, to the two largest units: `45 s`, `12 min`, `3 h 05 min`, `2 d 04 h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d} d {h:02} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{s} s")
    }
}

/// A ledger time for a `<time>` element: the machine-readable ISO text and what people read.
#[derive(Clone, Debug)]
pub struct Time {
    /// [`iso_time`]: `2026-11-20T12:15:14+00:00`.
    pub iso: String,
    /// `2026-11-20 12:15 UTC`.
    pub text: String,
    /// `2026-11-20 12:15:14 UTC`.
    pub full: String,
}

impl Time {
    pub fn of(ms: u64) -> Time {
        let iso = iso_time(ms);
        // iso_time always starts `YYYY-MM-DDTHH:MM:SS` for the years a ledger can hold; fall
        // back to the ISO text for anything else rather than slicing blindly.
        let (text, full) = match (iso.get(..10), iso.get(11..16), iso.get(11..19)) {
            (Some(date), Some(hm), Some(hms)) if iso.as_bytes().get(10) == Some(&b'T') => {
                (format!("{date} {hm} UTC"), format!("{date} {hms} UTC"))
            }
            _ => (iso.clone(), iso.clone()),
        };
        Time { iso, text, full }
    }
}

/// The file name (without extension) a page about `id` gets: the id itself when it is made of
/// ASCII letters, digits, `-` and `_` (every eval id and SS58 hotkey), else `x-` and the hex of
/// its bytes. So a foreign ledger's odd id can never climb out of its directory or collide
/// with a plain one.
pub fn page_name(id: &str) -> String {
    let plain = !id.is_empty()
        && !id.starts_with("x-")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        id.to_string()
    } else {
        let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
        format!("x-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_fixed_decimals_and_no_negative_zero() {
        assert_eq!(fixed(73.9394, 2), "73.94");
        assert_eq!(fixed(-0.00001, 4), "0.0000");
        assert_eq!(fixed(-1.5, 1), "\u{2212}1.5");
        assert_eq!(fixed(f64::NAN, 2), "n/a");
        assert_eq!(signed(0.24814814, 4), "+0.2481");
        assert_eq!(signed(-0.012, 4), "\u{2212}0.0120");
        assert_eq!(signed(0.0, 2), "0.00");
        assert_eq!(percent(0.45, 1), "45.0%");
        assert_eq!(score(None, 2), "—");
    }

    #[test]
    fn hashes_and_hotkeys_shorten() {
        let d = "sha256:4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a";
        assert_eq!(short_digest(d), "sha256:4bf5122f3445…");
        assert_eq!(short_hotkey("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"), "5GrwvaEF…KutQY");
        assert_eq!(short_hotkey("5V"), "5V");
        assert_eq!(short("abc", 5), "abc");
    }

    #[test]
    fn durations_use_the_two_largest_units() {
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(12 * 60_000 + 5_000), "12 min");
        assert_eq!(duration(3 * 3_600_000 + 5 * 60_000), "3 h 05 min");
        assert_eq!(duration(2 * 86_400_000 + 4 * 3_600_000), "2 d 04 h");
    }

    #[test]
    fn times_come_from_iso_time() {
        let t = Time::of(1_795_176_922_000);
        assert_eq!(t.iso, "2026-11-20T12:15:22+00:00");
        assert_eq!(t.text, "2026-11-20 12:15 UTC");
        assert_eq!(t.full, "2026-11-20 12:15:22 UTC");
    }

    #[test]
    fn page_names_stay_in_their_directory() {
        assert_eq!(page_name("eval-000001"), "eval-000001");
        assert_eq!(
            page_name("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        assert_eq!(page_name("../x"), "x-2e2e2f78");
        assert_eq!(page_name(""), "x-");
        assert_eq!(page_name("x-41"), "x-782d3431");
    }
}
