//! Every number, amount, age, hash and address that chaintop prints goes through
//! here: the panes, headless output and messages agree on one spelling.

use std::borrow::Cow;
use std::time::Duration;

use alloy_primitives::utils::format_units;
use alloy_primitives::{Address, B256, U256};

use crate::event::AbiValue;

/// `19234567` → `19,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    group_digits(&digits)
}

fn group_digits(digits: &str) -> String {
    group_thousands(digits)
}

/// Group a run of decimal digits in thousands: `1234567` → `1,234,567`. A leading
/// `-` is kept in front.
pub fn group_thousands(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let mut out = String::with_capacity(sign.len() + digits.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A raw token amount with `decimals` places: `1500000` with 6 gives `1.5`.
pub fn token_amount(amount: U256, decimals: u8) -> String {
    let digits = amount.to_string();
    let places = usize::from(decimals);
    if places == 0 {
        return group_thousands(&digits);
    }
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    // Whole amounts keep six decimals (enough to see change); dust keeps them all.
    let frac = if int != "0" {
        &frac[..frac.len().min(6)]
    } else {
        frac
    };
    let frac = frac.trim_end_matches('0');
    let int = group_thousands(int);
    if frac.is_empty() {
        int
    } else {
        format!("{int}.{frac}")
    }
}

/// A compact age or countdown: `3s`, `1m12s`, `1h02m`, `2d03h`.
pub fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// A duration rounded up to whole seconds (so a countdown never shows `0s` early).
pub fn countdown(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    age(secs)
}

/// An interval: `250ms` below a second, `2s`, `1m30s` above.
pub fn interval(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        age(d.as_secs())
    }
}

/// Milliseconds: `12ms`, `0.4ms` below one.
pub fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

/// A per-second rate: `3.2/s`, `1.2k/s`.
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 10_000.0 {
        format!("{:.1}k/s", per_sec / 1000.0)
    } else if per_sec >= 100.0 {
        format!("{per_sec:.0}/s")
    } else {
        format!("{per_sec:.1}/s")
    }
}

/// A cost or a count in few characters: `80`, `2.5`, `4,100`, `41.3k`, `1.7M`, `3.0G`.
pub fn compact(v: f64) -> String {
    let v = v.max(0.0);
    if v >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 || v.fract() == 0.0 {
        thousands(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

/// The short name of a billing unit: `cr` (credits), `CU`, `RU`, `req`.
pub fn cost_unit(unit: &str) -> &str {
    match unit {
        "credits" => "cr",
        "cu" => "CU",
        "ru" => "RU",
        "requests" | "" => "req",
        other => other,
    }
}

/// `0x1234…abcd`.
pub fn short_hash(hash: &B256) -> String {
    let s = hash.to_string();
    shorten_hex(&s)
}

/// EIP-55 checksummed `0xAbCd…1234`.
pub fn short_address(address: &Address) -> String {
    shorten_hex(&address.to_checksum(None))
}

fn shorten_hex(s: &str) -> String {
    if s.len() <= 12 {
        return s.to_string();
    }
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

/// A wei amount in `decimals`-unit with `places` fraction digits, rounded half up,
/// with thousands separators in the integer part: `1,234.5678`. An amount that is
/// not zero never shows as zero: below what `places` can show it is written with
/// as many digits as it needs (`0.000000000000000001`), so any change is visible.
pub fn units(wei: U256, decimals: u8, places: u8) -> String {
    let places = places.min(decimals);
    let half = if places < decimals {
        U256::from(5u8) * U256::from(10u8).pow(U256::from(decimals - places - 1))
    } else {
        U256::ZERO
    };
    if !wei.is_zero() && wei < half * U256::from(2u8) {
        return token_amount(wei, decimals);
    }
    let rounded = wei.saturating_add(half);
    let Ok(full) = format_units(rounded, decimals) else {
        return "?".to_string();
    };
    let (int, frac) = full.split_once('.').unwrap_or((&full, ""));
    let mut out = group_digits(int);
    if places > 0 {
        out.push('.');
        out.push_str(frac.get(..usize::from(places)).unwrap_or(frac));
    }
    out
}

/// A decoded ABI value for people: amounts of a token in its units, other integers
/// grouped in thousands, strings quoted, bytes in hex, lists `[a, b]`, tuples
/// `(a, b)`. `address` writes addresses (with a label, shortened, …).
pub fn abi(v: &AbiValue, address: &dyn Fn(&Address) -> String) -> String {
    match v {
        AbiValue::Address(a) => address(a),
        AbiValue::Uint {
            value,
            decimals: Some(d),
        } => token_amount(*value, *d),
        AbiValue::Uint {
            value,
            decimals: None,
        } => group_thousands(&value.to_string()),
        AbiValue::Int(i) => group_thousands(&i.to_string()),
        AbiValue::Bool(b) => b.to_string(),
        AbiValue::Str(s) => format!("{s:?}"),
        AbiValue::Bytes(b) => b.to_string(),
        AbiValue::Array(items) | AbiValue::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(|i| abi(i, address)).collect();
            let (open, close) = if matches!(v, AbiValue::Tuple(_)) {
                ("(", ")")
            } else {
                ("[", "]")
            };
            format!("{open}{}{close}", inner.join(", "))
        }
    }
}

/// An address with its label: `label (0xAbCd…full)`, or the checksummed address.
pub fn labelled(a: &Address, label: Option<&str>) -> String {
    let c = a.to_checksum(None);
    match label {
        Some(l) => format!("{l} ({c})"),
        None => c,
    }
}

/// Base fee in gwei with two decimals.
pub fn gwei(wei: U256) -> String {
    units(wei, 9, 2)
}

/// A balance in ETH with four decimals.
pub fn eth(wei: U256) -> String {
    units(wei, 18, 4)
}

/// Cut `s` to at most `max` characters, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    Cow::Owned(out)
}

/// Split `s` into at most `lines` pieces of `width` characters, the last ending in `…`
/// when the text does not fit.
pub fn wrap(s: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out = Vec::new();
    if width == 0 || lines == 0 {
        return out;
    }
    let mut rest = s;
    while !rest.is_empty() && out.len() < lines {
        let last = out.len() + 1 == lines;
        let piece = if last {
            truncate(rest, width).into_owned()
        } else {
            let head: String = rest.chars().take(width).collect();
            // Break after the last space when it keeps most of the line.
            match head.rfind(' ') {
                Some(i) if head.len() < rest.len() && i >= head.len() / 2 => head[..=i].to_string(),
                _ => head,
            }
        };
        let used = if last { rest.len() } else { piece.len() };
        rest = &rest[used..];
        out.push(piece);
    }
    out
}

/// `t` as RFC 3339 in UTC with milliseconds: `2026-12-01T16:28:56.123Z`.
pub fn rfc3339_ms(t: std::time::SystemTime) -> String {
    let d = t
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_times() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(19_234_567), "19,234,567");
        assert_eq!(age(3), "3s");
        assert_eq!(age(72), "1m12s");
        assert_eq!(age(3723), "1h02m");
        assert_eq!(age(2 * 86400 + 3 * 3600 + 5), "2d03h");
        assert_eq!(countdown(Duration::from_millis(3200)), "4s");
        assert_eq!(interval(Duration::from_millis(250)), "250ms");
        assert_eq!(interval(Duration::from_secs(90)), "1m30s");
        assert_eq!(millis(Duration::from_micros(12_400)), "12ms");
        assert_eq!(rate(3.24), "3.2/s");
        assert_eq!(rate(12_345.0), "12.3k/s");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_thousands("1234567"), "1,234,567");
        assert_eq!(group_thousands("-1000"), "-1,000");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(group_thousands(""), "");
    }

    #[test]
    fn formats_units_with_rounding() {
        assert_eq!(gwei(U256::from(12_345_678_901u64)), "12.35");
        assert_eq!(
            gwei(U256::from(7u64)),
            "0.000000007",
            "not zero, so not 0.00"
        );
        let wei = |s: &str| alloy_primitives::utils::parse_ether(s).unwrap();
        assert_eq!(eth(wei("1234.00005")), "1,234.0001");
        assert_eq!(eth(wei("1234.00004999")), "1,234.0000");
        assert_eq!(eth(wei("1.99995")), "2.0000");
        assert!(eth(U256::MAX).starts_with("115,792,089,237,"));
        // A change of one wei is a change.
        assert_eq!(eth(U256::from(1u8)), "0.000000000000000001");
        assert_eq!(eth(wei("0.00004")), "0.00004");
        assert_eq!(eth(wei("0.00005")), "0.00005");
        assert_eq!(eth(wei("0.00015")), "0.0002");
        assert_eq!(units(U256::from(3u8), 6, 4), "0.000003");
    }

    #[test]
    fn abi_values_read_like_their_kind() {
        let mine = Address::repeat_byte(1);
        let label = |a: &Address| labelled(a, (*a == mine).then_some("mine"));
        let amount = AbiValue::Uint {
            value: U256::from(1_500_000u64),
            decimals: Some(6),
        };
        assert_eq!(abi(&amount, &label), "1.5");
        let plain = AbiValue::Uint {
            value: U256::from(1_500_000u64),
            decimals: None,
        };
        assert_eq!(abi(&plain, &label), "1,500,000");
        assert_eq!(
            abi(&AbiValue::Address(mine), &label),
            format!("mine ({})", mine.to_checksum(None))
        );
        let other = Address::repeat_byte(2);
        assert_eq!(
            abi(&AbiValue::Address(other), &label),
            other.to_checksum(None)
        );
        let tuple = AbiValue::Tuple(vec![
            AbiValue::Bool(true),
            AbiValue::Str("a\"b".into()),
            AbiValue::Array(vec![AbiValue::Int(
                alloy_primitives::I256::try_from(-1234).unwrap(),
            )]),
            AbiValue::Bytes(alloy_primitives::Bytes::from_static(&[0xab, 0xcd])),
        ]);
        assert_eq!(abi(&tuple, &label), r#"(true, "a\"b", [-1,234], 0xabcd)"#);
    }

    #[test]
    fn shortens_hashes_and_checksums_addresses() {
        let h = B256::repeat_byte(0xab);
        assert_eq!(short_hash(&h), "0xabab…abab");
        let a: Address = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
            .parse()
            .unwrap();
        assert_eq!(short_address(&a), "0x5aAe…eAed");
    }

    #[test]
    fn truncates_and_wraps() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello!", 5), "hell…");
        assert_eq!(truncate("hello", 0), "");
        assert_eq!(wrap("abcdefgh", 3, 2), vec!["abc", "de…"]);
        assert_eq!(wrap("abcdef", 3, 2), vec!["abc", "def"]);
        assert_eq!(wrap("ab", 3, 2), vec!["ab"]);
        assert_eq!(
            wrap("chain id mismatch", 12, 2),
            vec!["chain id ", "mismatch"]
        );
    }

    #[test]
    fn rfc3339_in_utc_with_milliseconds() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        assert_eq!(rfc3339_ms(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(at(1_796_142_536, 7)), "2026-12-01T16:28:56.007Z");
        // A leap day, and the last millisecond of a century's leap year.
        assert_eq!(rfc3339_ms(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(at(978_307_199, 999)), "2000-12-31T23:59:59.999Z");
    }
}
