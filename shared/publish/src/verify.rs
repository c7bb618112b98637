//! Checks a request's SigV4 signature the way the AWS side does: recompute it from the
//! request's own method, URL, signed headers, body and `X-Amz-Date` with the expected
//! credentials, and compare. Stand-ins for API Gateway and AppSync use it, so a client that
//! signs the wrong body, host, service or key fails a test instead of failing in AWS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::signer::Signer;

/// AWS refuses a request signed more than 5 minutes away from its own clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// Verifies that `headers` (lower-case names) and `body` carry a valid signature by
/// `signer`'s credentials, for its region and service. `url` is the request's URL as the
/// server saw it (scheme, `Host` header, path and query). `now` bounds the clock skew.
pub fn verify(
    signer: &Signer,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: SystemTime,
) -> Result<(), String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let auth = get("authorization").ok_or("no Authorization header")?;
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .ok_or("Authorization header has no SignedHeaders")?;
    let date = get("x-amz-date").ok_or("no X-Amz-Date header")?;
    let time = parse_amz_date(date).ok_or_else(|| format!("bad X-Amz-Date {date:?}"))?;
    let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(format!(
            "signature expired: X-Amz-Date {date} is {skew:?} from now"
        ));
    }
    // The signer adds these itself from its credentials and time; every other signed
    // header must come from the request as received.
    let mut covered = Vec::new();
    for name in signed.split(';') {
        if matches!(name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        let v = get(name).ok_or_else(|| format!("signed header {name} is missing"))?;
        covered.push((name, v));
    }
    let expected = signer.sign(method, url, &covered, body, time)?;
    let want = expected
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .ok_or("signer produced no authorization")?;
    if want != auth {
        return Err(format!(
            "signature mismatch: expected {want:?}, got {auth:?} \
             (wrong key, region or service, or the request was changed after signing)"
        ));
    }
    let want_token = expected
        .iter()
        .find(|(k, _)| k == "x-amz-security-token")
        .map(|(_, v)| v.as_str());
    if want_token != get("x-amz-security-token") {
        return Err("session token differs from the signer's".to_owned());
    }
    Ok(())
}

/// `20250101T120000Z` to a time, or None.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), proleptic Gregorian.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    fn signer(secret: &str) -> Signer {
        let c = Credentials::new("AKIDTEST", secret, Some("tok".into()), None, "test");
        Signer::new(c, "us-east-1", "appsync")
    }

    #[test]
    fn amz_dates_parse_to_epoch_seconds() {
        let t = parse_amz_date("20250101T120000Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_735_732_800
        );
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        assert!(parse_amz_date("2025-01-01T12:00:00Z").is_none());
        assert!(parse_amz_date("20251301T120000Z").is_none());
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_does_not() {
        let s = signer("secret");
        let now = SystemTime::now();
        let url = "http://127.0.0.1:9/graphql";
        let body = br#"{"query":"mutation"}"#;
        let mut headers: Vec<(String, String)> = s
            .sign(
                "POST",
                url,
                &[("content-type", "application/json")],
                body,
                now,
            )
            .unwrap();
        headers.push(("content-type".into(), "application/json".into()));
        headers.push(("host".into(), "127.0.0.1:9".into()));
        assert_eq!(verify(&s, "POST", url, &headers, body, now), Ok(()));
        // Tampered body, other key, other service, other path, late.
        assert!(verify(&s, "POST", url, &headers, b"{}", now).is_err());
        assert!(verify(&signer("other"), "POST", url, &headers, body, now).is_err());
        let other = Signer::new(
            Credentials::new("AKIDTEST", "secret", Some("tok".into()), None, "t"),
            "us-east-1",
            "execute-api",
        );
        assert!(verify(&other, "POST", url, &headers, body, now).is_err());
        assert!(verify(&s, "POST", "http://127.0.0.1:9/x", &headers, body, now).is_err());
        let late = now + Duration::from_secs(600);
        assert!(
            verify(&s, "POST", url, &headers, body, late)
                .unwrap_err()
                .contains("expired")
        );
    }
}
