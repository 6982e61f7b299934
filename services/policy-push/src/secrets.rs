//! The two keys the service must never run without: the link secret (signs the links in
//! e-mails) and the ID-hash secret (identifies citizens by a keyed hash of their ID number).
//! Configured values are taken as they are, unless they are the public demo constants of earlier
//! versions; otherwise, beside a SQLite database, random ones are made on first start and kept in
//! `<data dir>/secrets.toml` (mode 0600) for every later command on that database. A PostgreSQL
//! deployment has no data folder of its own, so it must be told.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::Format;
use serde::Deserialize;

use crate::Config;

/// Defaults of earlier versions, published in their source: anyone could forge links or link ID
/// hashes with them, so they are refused wherever they are configured.
const PUBLIC_SECRETS: [&str; 2] = [
    "policy-push-demo-secret-change-me",
    "policy-push-demo-link-secret-change-me",
];

/// The file, beside a SQLite database, that keeps the secrets made for it.
pub const SECRETS_FILE: &str = "secrets.toml";

/// The keys the service runs with.
#[derive(Clone, Deserialize)]
pub struct Secrets {
    pub link_secret: String,
    pub id_hash_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

/// The folder of a SQLite database file, where its secrets are kept; `None` for PostgreSQL and
/// in-memory SQLite, which have none.
fn data_dir(database_url: &str) -> Option<PathBuf> {
    let path = database_url.strip_prefix("sqlite://")?;
    let file = path.split('?').next().unwrap_or(path);
    if file.is_empty() || file.contains(":memory:") || path.contains("mode=memory") {
        return None;
    }
    Some(match Path::new(file).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    })
}

fn refuse_public(key: &str, value: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !PUBLIC_SECRETS.contains(&value),
        "{key} is a published demo value that anyone could use to forge links or match ID \
         hashes; set a random secret (e.g. `openssl rand -hex 32`) / {key} 为公开的演示值，请改为随机密钥"
    );
    Ok(())
}

/// The secrets for `config`: configured ones, else those kept beside its SQLite database (made
/// now if this is the first start).
pub fn resolve(config: &Config) -> anyhow::Result<Secrets> {
    for (key, value) in [
        ("link_secret", &config.link_secret),
        ("id_hash_secret", &config.id_hash_secret),
    ] {
        if let Some(value) = value {
            refuse_public(key, value)?;
        }
    }
    if let (Some(link_secret), Some(id_hash_secret)) = (&config.link_secret, &config.id_hash_secret)
    {
        return Ok(Secrets {
            link_secret: link_secret.clone(),
            id_hash_secret: id_hash_secret.clone(),
        });
    }
    let dir = data_dir(&config.database_url).with_context(|| {
        "no link or ID-hash secret is configured, and this database has no data folder to keep \
         generated ones in: set POLICY_PUSH_LINK_SECRET and POLICY_PUSH_ID_HASH_SECRET (the same \
         on every instance and every command) / 未配置 POLICY_PUSH_LINK_SECRET 与 \
         POLICY_PUSH_ID_HASH_SECRET"
    })?;
    let kept = kept_beside_database(&dir)?;
    Ok(Secrets {
        link_secret: config.link_secret.clone().unwrap_or(kept.link_secret),
        id_hash_secret: config.id_hash_secret.clone().unwrap_or(kept.id_hash_secret),
    })
}

/// Reads `<dir>/secrets.toml`, or makes it with fresh random secrets; only its owner may read it.
fn kept_beside_database(dir: &Path) -> anyhow::Result<Secrets> {
    let path = dir.join(SECRETS_FILE);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match created {
        Ok(mut file) => {
            let secrets = Secrets {
                link_secret: accounts::new_secret()?,
                id_hash_secret: accounts::new_secret()?,
            };
            write!(
                file,
                "# Made on first start; keep it with the database (ID hashes and e-mail links depend on it).\n\
                 link_secret = \"{}\"\nid_hash_secret = \"{}\"\n",
                secrets.link_secret, secrets.id_hash_secret
            )
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "link and ID-hash secrets generated");
            Ok(secrets)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let secrets: Secrets = figment::Figment::from(figment::providers::Toml::string(&text))
                .extract()
                .with_context(|| format!("{} is not valid", path.display()))?;
            refuse_public("link_secret", &secrets.link_secret)?;
            refuse_public("id_hash_secret", &secrets.id_hash_secret)?;
            Ok(secrets)
        }
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_folder_is_the_sqlite_file_s() {
        assert_eq!(
            data_dir("sqlite://data/policy-push.db"),
            Some(PathBuf::from("data"))
        );
        assert_eq!(
            data_dir("sqlite:///var/lib/pp/x.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/pp"))
        );
        assert_eq!(data_dir("sqlite://x.db"), Some(PathBuf::from(".")));
        assert_eq!(data_dir("sqlite://:memory:"), None);
        assert_eq!(data_dir("postgres://db/pp"), None);
    }

    #[test]
    fn the_published_demo_values_are_refused_even_when_configured() {
        let mut config = Config {
            database_url: "postgres://db/pp".to_owned(),
            link_secret: Some(PUBLIC_SECRETS[1].to_owned()),
            id_hash_secret: Some("a-real-secret-of-enough-length".to_owned()),
            ..Config::default()
        };
        let refused = resolve(&config).unwrap_err().to_string();
        assert!(refused.contains("link_secret"), "{refused}");
        config.link_secret = Some("another-real-secret-value".to_owned());
        config.id_hash_secret = Some(PUBLIC_SECRETS[0].to_owned());
        assert!(resolve(&config).is_err());
        config.id_hash_secret = Some("a-real-secret-of-enough-length".to_owned());
        assert_eq!(
            resolve(&config).unwrap().link_secret,
            "another-real-secret-value"
        );
    }
}
