//! The cached per-account values the proxy writes back: tokens, salt, activity.

/// A key the token store writes into an account section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CacheKey {
    /// `access_token`: the encrypted access token.
    AccessToken,
    /// `access_token_expiry`: Unix time the access token expires.
    AccessTokenExpiry,
    /// `refresh_token`: the encrypted refresh token.
    RefreshToken,
    /// `token_salt`: base64 PBKDF2 salt of the account's encryption key.
    TokenSalt,
    /// `token_iterations`: PBKDF2 iteration count of the account's encryption key.
    TokenIterations,
    /// `client_secret_encrypted`: the encrypted client secret.
    ClientSecretEncrypted,
    /// `last_activity`: Unix time of the last authenticated activity.
    LastActivity,
    /// `client_secret`: not cached, but removed from the account section when
    /// `encrypt_client_secret_on_first_use` encrypts it (configuration file only).
    ClientSecret,
}

impl CacheKey {
    /// The keys a cache store holds (all but [`CacheKey::ClientSecret`]).
    pub const CACHED: [Self; 7] = [
        Self::AccessToken,
        Self::AccessTokenExpiry,
        Self::RefreshToken,
        Self::TokenSalt,
        Self::TokenIterations,
        Self::ClientSecretEncrypted,
        Self::LastActivity,
    ];

    /// The key as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::AccessTokenExpiry => "access_token_expiry",
            Self::RefreshToken => "refresh_token",
            Self::TokenSalt => "token_salt",
            Self::TokenIterations => "token_iterations",
            Self::ClientSecretEncrypted => "client_secret_encrypted",
            Self::LastActivity => "last_activity",
            Self::ClientSecret => "client_secret",
        }
    }

    /// Finds the key for a (lower-cased) name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::CACHED
            .into_iter()
            .chain([Self::ClientSecret])
            .find(|k| k.as_str() == name)
    }

    /// Whether a separate cache store holds this key.
    pub fn is_cached(self) -> bool {
        self != Self::ClientSecret
    }
}

/// One change to an account section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheChange {
    /// Set the key to the value (adding it at the end of the section when missing).
    Set(CacheKey, String),
    /// Remove the key.
    Remove(CacheKey),
}

impl CacheChange {
    /// The key this change concerns.
    pub fn key(&self) -> CacheKey {
        match self {
            Self::Set(key, _) | Self::Remove(key) => *key,
        }
    }
}

/// An ordered list of changes to one account section, applied together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheChanges(Vec<CacheChange>);

impl CacheChanges {
    /// No changes.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds a change setting `key` to `value`.
    pub fn set(&mut self, key: CacheKey, value: impl Into<String>) -> &mut Self {
        self.0.push(CacheChange::Set(key, value.into()));
        self
    }

    /// Adds a change removing `key`.
    pub fn remove(&mut self, key: CacheKey) -> &mut Self {
        self.0.push(CacheChange::Remove(key));
        self
    }

    /// Appends all of `other`.
    pub fn extend(&mut self, other: CacheChanges) -> &mut Self {
        self.0.extend(other.0);
        self
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The changes in order.
    pub fn iter(&self) -> impl Iterator<Item = &CacheChange> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a CacheChanges {
    type Item = &'a CacheChange;
    type IntoIter = core::slice::Iter<'a, CacheChange>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The cached values of one login username.
///
/// `access_token`, `access_token_expiry`, `refresh_token` and `last_activity` come from
/// the user's own section only; `token_salt`, `token_iterations` and
/// `client_secret_encrypted` are inherited through the catch-all chain, as the Python
/// email-oauth2-proxy reads them (so pre-encrypted catch-all secrets work).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountCache {
    /// The encrypted access token (Fernet text).
    pub access_token: Option<String>,
    /// Unix time the access token expires.
    pub access_token_expiry: Option<u64>,
    /// The encrypted refresh token (Fernet text).
    pub refresh_token: Option<String>,
    /// Base64 PBKDF2 salt.
    pub token_salt: Option<String>,
    /// PBKDF2 iteration count as written (`None` when absent or not a number).
    pub token_iterations: Option<i64>,
    /// The encrypted client secret (Fernet text).
    pub client_secret_encrypted: Option<String>,
    /// Unix time of the last authenticated activity.
    pub last_activity: Option<u64>,
}

impl AccountCache {
    /// Whether any token is stored.
    pub fn has_tokens(&self) -> bool {
        self.access_token.is_some() || self.refresh_token.is_some()
    }
}
