//! Where `--cache-store` says the tokens live: a file, Redis or AWS Secrets Manager.

use std::path::PathBuf;
use std::sync::Arc;

use super::file::IniFileStorage;
use super::storage::TokenStorage;

/// A `--cache-store` value: `redis://...` and `rediss://...` name a Redis store, `aws:...` a
/// secret in AWS Secrets Manager (`aws:<name or ARN>` or `aws:<profile>||<name>`, as the
/// Python email-oauth2-proxy reads them), anything else a file.
///
/// [`Debug`](std::fmt::Debug) and [`CacheStoreLocation::describe`] never show a password.
///
/// ```
/// use mailgate_token::store::CacheStoreLocation;
///
/// let redis = CacheStoreLocation::parse("redis://mailgate:hunter2@10.0.0.5:6379/0");
/// assert_eq!(redis.describe(), "redis://mailgate:***@10.0.0.5:6379/0");
/// assert!(!format!("{redis:?}").contains("hunter2"));
/// assert_eq!(
///     CacheStoreLocation::parse("aws:work||mailgate-tokens"),
///     CacheStoreLocation::Aws { profile: Some("work".into()), secret: "mailgate-tokens".into() }
/// );
/// assert_eq!(
///     CacheStoreLocation::parse("/var/lib/mailgate/tokens.config"),
///     CacheStoreLocation::File("/var/lib/mailgate/tokens.config".into())
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheStoreLocation {
    /// A cache store file (INI).
    File(PathBuf),
    /// A Redis URL (it may hold a password).
    Redis(String),
    /// A secret in AWS Secrets Manager.
    Aws {
        /// The profile of the AWS configuration to use (`aws:<profile>||<name>`).
        profile: Option<String>,
        /// The secret's name or ARN.
        secret: String,
    },
}

impl std::fmt::Debug for CacheStoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The store named cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStoreError {
    /// This build has no support for the store (a cargo feature was off).
    #[error(
        "token store {store}: this mailgate was built without support for {kind} token stores (cargo feature `{feature}`)"
    )]
    NotBuilt {
        /// The store, without secrets.
        store: String,
        /// What kind of store.
        kind: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// The store's address is not valid, or its client could not start.
    #[error("token store {store}: {reason}")]
    Invalid {
        /// The store, without secrets.
        store: String,
        /// What is wrong.
        reason: String,
    },
}

impl CacheStoreLocation {
    /// Reads a `--cache-store` value.
    pub fn parse(value: &str) -> Self {
        let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
        if lower.starts_with("redis://") || lower.starts_with("rediss:/") {
            return Self::Redis(value.to_owned());
        }
        if let Some(id) = value.strip_prefix("aws:") {
            return match id.split_once("||") {
                Some((profile, secret)) => Self::Aws {
                    profile: Some(profile.to_owned()),
                    secret: secret.to_owned(),
                },
                None => Self::Aws {
                    profile: None,
                    secret: id.to_owned(),
                },
            };
        }
        Self::File(PathBuf::from(value))
    }

    /// The store for messages and logs: never a password.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Redis(url) => redact_url(url),
            Self::Aws {
                profile: Some(profile),
                secret,
            } => format!("aws:{profile}||{secret}"),
            Self::Aws {
                profile: None,
                secret,
            } => format!("aws:{secret}"),
        }
    }

    /// Whether several processes share the store over the network (Redis, AWS).
    pub fn is_shared(&self) -> bool {
        !matches!(self, Self::File(_))
    }

    /// Opens the store (a file store as a cache store: created when missing). Does not
    /// connect: the first use does.
    pub fn open(&self) -> Result<Arc<dyn TokenStorage>, OpenStoreError> {
        match self {
            Self::File(path) => Ok(Arc::new(IniFileStorage::cache_store(path))),
            #[cfg(feature = "redis")]
            Self::Redis(url) => super::RedisStorage::open(url)
                .map(|store| Arc::new(store) as Arc<dyn TokenStorage>)
                .map_err(|error| OpenStoreError::Invalid {
                    store: self.describe(),
                    reason: error.to_string(),
                }),
            #[cfg(not(feature = "redis"))]
            Self::Redis(_) => Err(OpenStoreError::NotBuilt {
                store: self.describe(),
                kind: "Redis",
                feature: "redis",
            }),
            #[cfg(feature = "aws")]
            Self::Aws { profile, secret } => {
                super::AwsSecretStorage::open(profile.as_deref(), secret)
                    .map(|store| Arc::new(store) as Arc<dyn TokenStorage>)
                    .map_err(|error| OpenStoreError::Invalid {
                        store: self.describe(),
                        reason: error.to_string(),
                    })
            }
            #[cfg(not(feature = "aws"))]
            Self::Aws { .. } => Err(OpenStoreError::NotBuilt {
                store: self.describe(),
                kind: "AWS Secrets Manager",
                feature: "aws",
            }),
        }
    }
}

/// A URL without its password and query.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) if !user.is_empty() => format!("{user}:***@{host}"),
            _ => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::redact_url as redact;

    #[test]
    fn redaction_hides_every_password_form() {
        assert_eq!(
            redact("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(
            redact("redis://user:pa:ss@host:1/3?x=1"),
            "redis://user:***@host:1/3"
        );
        assert_eq!(redact("rediss://:secret@host:1"), "rediss://***@host:1");
        assert_eq!(redact("redis://secret@host/0"), "redis://***@host/0");
        assert_eq!(redact("redis://u:p@ss@host/0"), "redis://u:***@host/0");
    }
}
