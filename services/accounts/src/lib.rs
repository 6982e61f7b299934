//! Sign-in mechanics that do not depend on storage or HTTP: hashing and checking passwords with
//! argon2 (off the async threads, it is deliberately slow), the one normalisation of user names,
//! the length limits checked before any work, minting random secrets for session cookies, CSRF
//! tokens and API tokens, hashing those secrets for storage, and the rules of the sign-in
//! throttle (its counts live in the database, see `Store::count_sign_in_attempt`).

use std::sync::OnceLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the system random source failed: {0}")]
    Random(String),
    #[error("password hashing task failed: {0}")]
    Task(String),
}

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted user name, in characters after normalisation.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Longest accepted password, in bytes: argon2 reads all of it, so an unbounded one is work an
/// attacker chooses.
pub const MAX_PASSWORD_BYTES: usize = 256;

fn random_bytes<const N: usize>() -> Result<[u8; N], AccountError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Random(e.to_string()))?;
    Ok(bytes)
}

/// The form of a user name that is stored, looked up and throttled: surrounding white space
/// dropped and lower-cased, so " Li" and "li" are one account and one throttle key.
pub fn normalise_username(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The field of a sign-in that is too long to be worth any work, if one is. Checked on the raw
/// input without copying it, so a megabyte name costs no more than a short one.
pub fn oversized_sign_in_field(username: &str, password: &str) -> Option<&'static str> {
    if username.trim().chars().nth(MAX_USERNAME_CHARS).is_some() {
        Some("username")
    } else if password.len() > MAX_PASSWORD_BYTES {
        Some("password")
    } else {
        None
    }
}

fn hash_blocking(password: &str, salt_bytes: &[u8]) -> Result<String, AccountError> {
    let salt =
        SaltString::encode_b64(salt_bytes).map_err(|e| AccountError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes a password into a self-describing argon2id string (algorithm, parameters, salt).
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    let salt_bytes = random_bytes::<16>()?;
    tokio::task::spawn_blocking(move || hash_blocking(&password, &salt_bytes))
        .await
        .map_err(|e| AccountError::Task(e.to_string()))?
}

/// A hash made once per process, with the parameters of every stored hash, of a random password
/// nobody knows: unknown user names are checked against it, so they cost what known ones cost.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let unguessable = hex::encode(random_bytes::<32>().unwrap_or([7; 32]));
        let salt = random_bytes::<16>().unwrap_or([9; 16]);
        hash_blocking(&unguessable, &salt).unwrap_or_default()
    })
}

/// Checks a sign-in's password with `verify` against the user's stored hash, or, for an unknown
/// user, against the dummy hash (a match there never counts): one verification either way.
fn check_sign_in(
    password: &str,
    stored_hash: Option<&str>,
    verify: impl Fn(&str, &str) -> bool,
) -> bool {
    let hash = match stored_hash {
        Some(hash) => hash,
        None => dummy_hash(),
    };
    let matched = verify(password, hash);
    matched && stored_hash.is_some()
}

/// Checks a sign-in's password against the user's stored hash, or, for an unknown user, against
/// the dummy hash: one argon2 verification either way, so the answer's timing does not tell
/// whether the name exists.
pub async fn verify_sign_in(password: &str, stored_hash: Option<&str>) -> bool {
    let password = password.to_owned();
    let stored = stored_hash.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        check_sign_in(&password, stored.as_deref(), verify_blocking)
    })
    .await
    .unwrap_or(false)
}

/// A fresh 256-bit secret, hex-encoded: session ids, CSRF tokens, API tokens.
pub fn new_secret() -> Result<String, AccountError> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// What is stored of a secret: its SHA-256, so a leaked table does not leak live sessions or
/// tokens. (The secrets are random and long, so a fast hash is enough.)
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The rules of the sign-in throttle: attempts counted per user name and, separately, per client
/// address in fixed windows, each limit applied to the current window and the one before it
/// together, so guesses made just before and just after a window's edge still add up. Every
/// attempt is counted before its password is checked, so parallel attempts are counted too; a
/// successful one is taken back (see `open_session`).
#[derive(Clone, Debug)]
pub struct LoginThrottle {
    pub per_name: u32,
    pub per_address: u32,
    pub window: Duration,
}

/// The throttle keys of one attempt, as stored: hashed, so the table neither grows with long
/// input nor keeps what people typed into the name field (sometimes their password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleKeys {
    pub name: String,
    pub address: String,
}

/// The fixed window an attempt falls in, as the store counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleWindow {
    /// Start of the window (Unix seconds): the row this attempt is added to.
    pub start: i64,
    /// Start of the window before it: attempts since then count against the limits.
    pub counted_since: i64,
    /// When this window's rows may be deleted: once the window after it has ended too.
    pub expires_at: i64,
}

/// Attempts on one key: in the current window, and in it and the one before together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptCount {
    pub this_window: i64,
    pub counted: i64,
}

impl LoginThrottle {
    /// The keys of an attempt on an already normalised name from `client`.
    pub fn keys(&self, normalised_name: &str, client: &str) -> ThrottleKeys {
        ThrottleKeys {
            name: secret_hash(&format!("name:{normalised_name}")),
            address: secret_hash(&format!("address:{client}")),
        }
    }

    fn length(&self) -> i64 {
        i64::try_from(self.window.as_secs().max(1)).unwrap_or(i64::MAX / 4)
    }

    /// The window `now` (Unix seconds) falls in.
    pub fn window_at(&self, now: i64) -> ThrottleWindow {
        let length = self.length();
        let start = now - now.rem_euclid(length);
        ThrottleWindow {
            start,
            counted_since: start - length,
            expires_at: start + 2 * length,
        }
    }

    /// How long to wait when the attempts counted so far (this one included) are more than
    /// allowed; `None` when the attempt may go on to the password check. The wait lasts until
    /// enough of the counted attempts have left the count: the previous window's at the end of
    /// this one, this window's at the end of the next.
    pub fn refusal(&self, now: i64, name: AttemptCount, address: AttemptCount) -> Option<Duration> {
        let length = self.length();
        let end = self.window_at(now).start + length;
        let wait_until = |count: AttemptCount, limit: u32| {
            let limit = i64::from(limit);
            if count.counted <= limit {
                None
            } else if count.this_window <= limit {
                Some(end)
            } else {
                Some(end + length)
            }
        };
        let until = wait_until(name, self.per_name).max(wait_until(address, self.per_address))?;
        Some(Duration::from_secs(
            u64::try_from(until - now).unwrap_or(1).max(1),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_against_their_own_hash_only() {
        let hash = hash_password("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_sign_in("correct horse battery", Some(&hash)).await);
        assert!(!verify_sign_in("correct horse batterz", Some(&hash)).await);
        assert!(!verify_sign_in("correct horse battery", Some("not a hash")).await);
        assert_ne!(
            hash,
            hash_password("correct horse battery").await.unwrap(),
            "salted"
        );
    }

    #[tokio::test]
    async fn unknown_users_are_verified_against_a_dummy_hash_as_costly_as_a_real_one() {
        let real = hash_password("correct horse battery").await.unwrap();
        let checked = std::sync::Mutex::new(Vec::new());
        let verify = |password: &str, hash: &str| {
            checked.lock().unwrap().push(hash.to_owned());
            verify_blocking(password, hash)
        };
        assert!(!check_sign_in("correct horse battery", None, verify));
        assert!(check_sign_in("correct horse battery", Some(&real), verify));
        assert_eq!(
            *checked.lock().unwrap(),
            [dummy_hash().to_owned(), real.clone()],
            "one verification each, the unknown user's against the dummy"
        );
        assert!(
            !check_sign_in("any", None, |_, _| true),
            "a match against the dummy never signs anyone in"
        );
        let (dummy, real) = (
            PasswordHash::new(dummy_hash()).unwrap(),
            PasswordHash::new(&real).unwrap(),
        );
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(
            dummy.params, real.params,
            "same memory, time and parallelism cost"
        );
        assert!(!verify_sign_in("", None).await);
    }

    #[test]
    fn names_are_normalised_once_for_look_up_and_throttle() {
        assert_eq!(normalise_username("  Li.Ming\t"), "li.ming");
        let throttle = LoginThrottle {
            per_name: 5,
            per_address: 50,
            window: Duration::from_secs(900),
        };
        let padded = throttle.keys(&normalise_username(" LI.MING "), "10.0.0.1");
        let plain = throttle.keys(&normalise_username("li.ming"), "10.0.0.2");
        assert_eq!(padded.name, plain.name, "one key per account");
        assert_ne!(padded.address, plain.address, "and one per address");
        assert_ne!(padded.name, padded.address);
        assert_eq!(padded.name.len(), 64, "stored hashed, whatever was typed");
    }

    #[test]
    fn oversized_fields_are_named_without_reading_them_whole() {
        assert_eq!(oversized_sign_in_field("li", "a password"), None);
        let long_name = "名".repeat(MAX_USERNAME_CHARS);
        assert_eq!(oversized_sign_in_field(&long_name, "pw"), None);
        assert_eq!(
            oversized_sign_in_field(&format!("{long_name}x"), "pw"),
            Some("username")
        );
        assert_eq!(
            oversized_sign_in_field(&format!("  {long_name}  "), "pw"),
            None,
            "padding is not part of the name"
        );
        assert_eq!(
            oversized_sign_in_field("li", &"p".repeat(MAX_PASSWORD_BYTES + 1)),
            Some("password")
        );
    }

    #[test]
    fn attempts_are_limited_over_this_window_and_the_last_and_wait_until_they_leave_it() {
        let throttle = LoginThrottle {
            per_name: 5,
            per_address: 50,
            window: Duration::from_secs(900),
        };
        let window = ThrottleWindow {
            start: 900,
            counted_since: 0,
            expires_at: 2_700,
        };
        assert_eq!(throttle.window_at(1_000), window);
        assert_eq!(throttle.window_at(900), window);
        let count = |this_window, counted| AttemptCount {
            this_window,
            counted,
        };
        assert_eq!(throttle.refusal(1_000, count(5, 5), count(1, 50)), None);
        assert_eq!(
            throttle.refusal(1_000, count(1, 6), count(1, 1)),
            Some(Duration::from_secs(800)),
            "the last window's attempts leave the count when this one ends"
        );
        assert_eq!(
            throttle.refusal(1_000, count(6, 6), count(1, 1)),
            Some(Duration::from_secs(1_700)),
            "this window's attempts leave it when the next one ends"
        );
        assert_eq!(
            throttle.refusal(1_799, count(1, 1), count(2, 51)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn secrets_are_long_random_and_stored_hashed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), a);
    }
}
