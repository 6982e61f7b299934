//! Sign-in mechanics that do not depend on storage or HTTP: hashing and checking passwords with
//! argon2 (off the async threads, it is deliberately slow), minting random secrets for session
//! cookies, CSRF tokens and API tokens, hashing those secrets for storage, and throttling
//! repeated failed sign-ins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

fn random_bytes<const N: usize>() -> Result<[u8; N], AccountError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Random(e.to_string()))?;
    Ok(bytes)
}

/// Hashes a password into a self-describing argon2id string (algorithm, parameters, salt).
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    let salt_bytes = random_bytes::<16>()?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AccountError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Task(e.to_string()))?
}

/// Whether `password` matches a hash made by [`hash_password`]; a malformed hash never matches.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
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

/// Counts failed sign-ins per key (user name and client address) and refuses further attempts
/// for a while after too many.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` may try now; when not, how long until it may.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(key) {
            Some((count, since))
                if *count >= self.max_failures && since.elapsed() < self.window =>
            {
                Err(self.window - since.elapsed())
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let entry = failures
            .entry(key.to_owned())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_against_their_own_hash_only() {
        let hash = hash_password("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash).await);
        assert!(!verify_password("correct horse batterz", &hash).await);
        assert!(!verify_password("correct horse battery", "not a hash").await);
        assert_ne!(
            hash,
            hash_password("correct horse battery").await.unwrap(),
            "salted"
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

    #[test]
    fn the_throttle_refuses_after_too_many_failures_and_forgets_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.check("li@1.2.3.4").is_ok());
            throttle.failed("li@1.2.3.4");
        }
        assert!(throttle.check("li@1.2.3.4").is_err());
        assert!(throttle.check("wang@1.2.3.4").is_ok(), "per key");
        throttle.succeeded("li@1.2.3.4");
        assert!(throttle.check("li@1.2.3.4").is_ok());
    }
}
