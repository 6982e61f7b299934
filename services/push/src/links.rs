//! Signed links in e-mails: one-click unsubscribe, the tracked "read this pack" link and the
//! confirmation of a newly added contact address. They work without logging in, so they carry an
//! HMAC over what they name — the delivery or pending address they came with among it, checked
//! against the stored record by whoever follows them — and when they were issued, so they stop
//! working after their purpose's lifetime.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a signed link is for; part of the signed text, so a token for one cannot serve another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Names the recipient's profile and the delivery.
    Unsubscribe,
    /// Names the push, the recipient's profile and the delivery.
    ReadPack,
    /// Names the pending contact address and its single-use nonce.
    ConfirmContact,
}

impl LinkPurpose {
    /// The signed label; a new label whenever the signed fields change, so links of an older
    /// form never verify.
    fn label(self) -> &'static str {
        match self {
            Self::Unsubscribe => "unsubscribe/v2",
            Self::ReadPack => "read/v2",
            Self::ConfirmContact => "confirm-contact/v2",
        }
    }

    fn arity(self) -> usize {
        match self {
            Self::Unsubscribe | Self::ConfirmContact => 2,
            Self::ReadPack => 3,
        }
    }
}

/// Why a link is not honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a token of this purpose's form (also links made before links carried their delivery
    /// and issue time).
    Malformed,
    /// The signature does not match what the token names: tampered with or forged.
    Forged,
    /// Genuine, but older than its purpose's lifetime.
    Expired,
}

/// Signs and checks link tokens of the form `<id>-<id>…-<issued, Unix seconds>-<signature>`.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
    pack_ttl: Duration,
    unsubscribe_ttl: Duration,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    /// A signer whose pack links last `pack_ttl` and unsubscribe links `unsubscribe_ttl`.
    pub fn new(secret: &[u8], pack_ttl: Duration, unsubscribe_ttl: Duration) -> Self {
        Self {
            key: secret.to_vec(),
            pack_ttl,
            unsubscribe_ttl,
        }
    }

    fn mac(&self, purpose: LinkPurpose, ids: &[i64], issued: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(purpose.label().as_bytes());
        for field in ids.iter().chain([&issued]) {
            mac.update(b"|");
            mac.update(field.to_string().as_bytes());
        }
        mac
    }

    /// A token naming `ids` (as [`LinkPurpose`] lists them), issued at `issued_at`.
    pub fn sign(&self, purpose: LinkPurpose, ids: &[i64], issued_at: DateTime<Utc>) -> String {
        let issued = issued_at.timestamp();
        let tag = self.mac(purpose, ids, issued).finalize().into_bytes();
        let mut token: String = ids.iter().map(|id| format!("{id}-")).collect();
        token.push_str(&format!("{issued}-"));
        token.push_str(&hex::encode(&tag[..SIGNATURE_BYTES]));
        token
    }

    /// The ids a token names, when it has the form of `purpose`, its signature is right and it
    /// has not outlived `purpose`'s lifetime at `now`.
    pub fn verify(
        &self,
        purpose: LinkPurpose,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, LinkRefusal> {
        let mut parts: Vec<&str> = token.split('-').collect();
        let signature = parts
            .pop()
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .filter(|signature| signature.len() == SIGNATURE_BYTES)
            .ok_or(LinkRefusal::Malformed)?;
        if parts.len() != purpose.arity() + 1 {
            return Err(LinkRefusal::Malformed);
        }
        let mut fields: Vec<i64> = parts
            .iter()
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()
            .ok_or(LinkRefusal::Malformed)?;
        let issued = fields.pop().ok_or(LinkRefusal::Malformed)?;
        // The MAC's own comparison is constant-time, so timing does not leak the signature.
        self.mac(purpose, &fields, issued)
            .verify_truncated_left(&signature)
            .map_err(|_| LinkRefusal::Forged)?;
        let lifetime = match purpose {
            LinkPurpose::ReadPack => self.pack_ttl,
            LinkPurpose::Unsubscribe => self.unsubscribe_ttl,
            LinkPurpose::ConfirmContact => CONFIRMATION_TTL,
        };
        if now.timestamp().saturating_sub(issued) > lifetime.num_seconds() {
            return Err(LinkRefusal::Expired);
        }
        Ok(fields)
    }
}

/// How long a new contact address has to confirm: long enough for a weekend away, short enough
/// that a forgotten mail does not stay a way in.
const CONFIRMATION_TTL: Duration = Duration::days(7);

/// 128 bits of HMAC-SHA256: short enough for a URL, far beyond guessing.
const SIGNATURE_BYTES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(key: &[u8]) -> LinkSigner {
        LinkSigner::new(key, Duration::days(90), Duration::days(365))
    }

    fn at(timestamp: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(timestamp, 0).unwrap()
    }

    #[test]
    fn tokens_verify_only_for_their_purpose_ids_and_key() {
        let signer = signer(b"secret");
        let now = at(1_800_000_000);
        let token = signer.sign(LinkPurpose::ReadPack, &[12, 345, 6], now);
        assert_eq!(
            signer.verify(LinkPurpose::ReadPack, &token, now),
            Ok(vec![12, 345, 6])
        );
        assert_eq!(
            signer.verify(LinkPurpose::Unsubscribe, &token, now),
            Err(LinkRefusal::Malformed)
        );
        let unsubscribe = signer.sign(LinkPurpose::Unsubscribe, &[345, 6], now);
        let relabelled = format!("12-{unsubscribe}");
        assert_eq!(
            signer.verify(LinkPurpose::ReadPack, &relabelled, now),
            Err(LinkRefusal::Forged),
            "a token of one purpose does not serve another"
        );
        assert_eq!(
            self::signer(b"other").verify(LinkPurpose::ReadPack, &token, now),
            Err(LinkRefusal::Forged)
        );
        for forged in [
            token.replacen("12-", "13-", 1),
            token.replacen("-6-", "-7-", 1),
            token.replacen(&format!("-{}-", now.timestamp()), "-1900000000-", 1),
        ] {
            assert_eq!(
                signer.verify(LinkPurpose::ReadPack, &forged, now),
                Err(LinkRefusal::Forged),
                "{forged}"
            );
        }
        assert_eq!(
            signer.verify(LinkPurpose::ReadPack, "garbage", now),
            Err(LinkRefusal::Malformed)
        );
    }

    #[test]
    fn links_of_the_old_form_and_the_old_public_key_are_refused() {
        // The form before links carried their delivery and issue time: `<push>-<profile>-<sig>`.
        let old_key = b"policy-push-demo-link-secret-change-me";
        let mut mac = Hmac::<Sha256>::new_from_slice(old_key).unwrap();
        mac.update(b"read|12|345");
        let tag = mac.finalize().into_bytes();
        let old = format!("12-345-{}", hex::encode(&tag[..SIGNATURE_BYTES]));
        let now = at(1_800_000_000);
        assert_eq!(
            signer(b"a real secret").verify(LinkPurpose::ReadPack, &old, now),
            Err(LinkRefusal::Malformed)
        );
        let forged = signer(old_key).sign(LinkPurpose::ReadPack, &[12, 345, 6], now);
        assert_eq!(
            signer(b"a real secret").verify(LinkPurpose::ReadPack, &forged, now),
            Err(LinkRefusal::Forged)
        );
    }

    #[test]
    fn links_expire_after_their_purpose_s_lifetime() {
        let signer = signer(b"secret");
        let issued = at(1_800_000_000);
        let pack = signer.sign(LinkPurpose::ReadPack, &[1, 2, 3], issued);
        let unsubscribe = signer.sign(LinkPurpose::Unsubscribe, &[2, 3], issued);
        let day_90 = issued + Duration::days(90);
        assert!(signer.verify(LinkPurpose::ReadPack, &pack, day_90).is_ok());
        assert_eq!(
            signer.verify(LinkPurpose::ReadPack, &pack, day_90 + Duration::seconds(1)),
            Err(LinkRefusal::Expired)
        );
        assert!(
            signer
                .verify(
                    LinkPurpose::Unsubscribe,
                    &unsubscribe,
                    day_90 + Duration::days(1)
                )
                .is_ok(),
            "unsubscribe links last a year"
        );
        assert_eq!(
            signer.verify(
                LinkPurpose::Unsubscribe,
                &unsubscribe,
                issued + Duration::days(366)
            ),
            Err(LinkRefusal::Expired)
        );
    }
}
