//! Token storage in one AWS Secrets Manager secret (`--cache-store aws:<name or ARN>` or
//! `aws:<profile>||<name>`), in the Python email-oauth2-proxy's format.
//!
//! # Format
//!
//! The secret's `SecretString` is a JSON object of account sections, each an object of the
//! account's cached keys with their values as text, exactly as in the configuration file
//! (`{"alice@example.com": {"access_token": "gAAAAA...", "access_token_expiry": "1767225600",
//! ...}}`): the Python email-oauth2-proxy reads what mailgate writes and the other way round.
//! Keys and accounts mailgate does not write are kept as they are.
//!
//! # Concurrent writers
//!
//! Secrets Manager has no partial update: a write replaces the whole secret. Each write
//! therefore reads the current version, applies one account's changes to it, stores the result
//! as a new version labelled `MAILGATE_PENDING` (not yet current), and then moves the
//! `AWSCURRENT` label to it *only from the version it read*
//! (`UpdateSecretVersionStage(RemoveFromVersionId = <read>)`). If another writer made a new
//! version current meanwhile, Secrets Manager refuses the move; the write starts again from the
//! new current version (at most [`WRITE_ATTEMPTS`] times, with a growing pause), so no writer
//! loses another's accounts. A secret without a current version (created empty, e.g. by the
//! Python email-oauth2-proxy) gets its first value directly; a missing secret is created, except
//! when an ARN names it.
//!
//! Secrets Manager has no lock: [`AwsSecretStorage::lock_account`] does not exclude other
//! processes, so two instances may refresh one account at the same time (use Redis for that).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde_json::{Map, Value};

use super::storage::{AccountLock, CacheSnapshot, StoreError, StoreFuture, TokenStorage};
use crate::config::{CacheChange, CacheChanges, CacheKey, MAX_DOCUMENT_BYTES, is_account_section};

/// How many times a write starts again after another writer changed the secret.
pub const WRITE_ATTEMPTS: usize = 8;
/// The label of a version written but not yet made current.
const PENDING_STAGE: &str = "MAILGATE_PENDING";
/// The label of the current version.
const CURRENT_STAGE: &str = "AWSCURRENT";

/// Why the AWS Secrets Manager token store could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsStoreError {
    /// AWS refused or could not be reached.
    #[error("{operation}: {message}")]
    Aws {
        /// The API call.
        operation: &'static str,
        /// The service's error code, if it answered.
        code: Option<String>,
        /// The error with its causes.
        message: String,
        /// Whether retrying later may succeed (unreachable, throttled, internal error).
        temporary: bool,
    },
    /// The secret named by an ARN does not exist (mailgate creates only secrets named by name).
    #[error(
        "the secret does not exist; create it, or name it by its name so that mailgate creates it"
    )]
    NotFound,
    /// The secret does not hold a JSON object of account objects.
    #[error("the secret is not a JSON object of account sections: {reason}; nothing was written")]
    Format {
        /// What is wrong.
        reason: String,
    },
    /// Other writers changed the secret on every attempt.
    #[error("other processes changed the secret on each of {WRITE_ATTEMPTS} attempts")]
    Conflict,
    /// Tokens were addressed to a section that is not an account (a bug in the caller).
    #[error("[{section}] is not an account section (account sections contain `@`)")]
    NotAnAccount {
        /// The section.
        section: String,
    },
    /// The system's random generator failed (no version token for the write).
    #[error("{0}")]
    Runtime(String),
}

impl AwsStoreError {
    /// Whether retrying later may succeed.
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Aws { temporary, .. } => *temporary,
            Self::Conflict => true,
            _ => false,
        }
    }

    fn from_sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = error.code().map(str::to_owned);
        let temporary = match error {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            _ => matches!(
                code.as_deref(),
                Some("ThrottlingException" | "InternalServiceError" | "InternalFailure")
            ),
        };
        Self::Aws {
            operation,
            code,
            message: DisplayErrorContext(error).to_string(),
            temporary,
        }
    }

    fn code_is(&self, wanted: &str) -> bool {
        matches!(self, Self::Aws { code: Some(code), .. } if code == wanted)
    }
}

/// The token cache in one AWS Secrets Manager secret, shared with the Python
/// email-oauth2-proxy's format.
///
/// The SDK's default credential chain and region apply (environment, profile files, web
/// identity, container and instance metadata), and its standard environment: `AWS_REGION`,
/// `AWS_PROFILE`, `AWS_ENDPOINT_URL` (e.g. an emulator). Opening does not connect.
///
/// ```
/// use mailgate_token::store::AwsSecretStorage;
///
/// let store = AwsSecretStorage::open(Some("work"), "mailgate-tokens")?;
/// assert_eq!(store.describe(), "aws:work||mailgate-tokens");
/// # Ok::<(), mailgate_token::store::AwsStoreError>(())
/// ```
#[derive(Clone)]
pub struct AwsSecretStorage {
    inner: Arc<Inner>,
}

struct Inner {
    secret: String,
    profile: Option<String>,
    described: String,
    client: tokio::sync::OnceCell<Client>,
    /// The last snapshot read, with this process's writes since: answered while AWS cannot be
    /// reached.
    last_read: Mutex<Option<CacheSnapshot>>,
}

impl std::fmt::Debug for AwsSecretStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSecretStorage")
            .field("store", &self.inner.described)
            .finish_non_exhaustive()
    }
}

/// The current version of the secret: its JSON object and version ID.
struct Current {
    document: Map<String, Value>,
    version: String,
}

/// The cached keys of every account of a secret's JSON object (values that are not text are
/// taken as their JSON text, as Python's `ConfigParser.read_dict` does).
fn snapshot_of(document: &Map<String, Value>) -> CacheSnapshot {
    let mut snapshot = CacheSnapshot::default();
    for (account, values) in document {
        let Some(values) = values.as_object().filter(|_| is_account_section(account)) else {
            continue;
        };
        let cached: std::collections::BTreeMap<String, String> = values
            .iter()
            .filter(|(key, _)| CacheKey::from_name(key).is_some_and(CacheKey::is_cached))
            .map(|(key, value)| {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect();
        if !cached.is_empty() {
            snapshot.accounts.insert(account.clone(), cached);
        }
    }
    snapshot
}

/// Parses a `SecretString`: empty or a JSON object.
fn parse_document(text: &str) -> Result<Map<String, Value>, AwsStoreError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(AwsStoreError::Format {
            reason: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
        });
    }
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AwsStoreError::Format {
            reason: "not a JSON object".to_owned(),
        }),
        Err(error) => Err(AwsStoreError::Format {
            reason: format!(
                "not JSON ({} at line {} column {})",
                error.classify_name(),
                error.line(),
                error.column()
            ),
        }),
    }
}

/// The kind of a JSON error, without quoting the input (it holds encrypted tokens).
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "input error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Applies one account's changes to the secret's JSON object; an account left without keys
/// is removed (as the Python email-oauth2-proxy drops empty sections).
fn apply_to_document(document: &mut Map<String, Value>, account: &str, changes: &CacheChanges) {
    let entry = document
        .entry(account.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(values) = entry {
        for change in changes {
            match change {
                CacheChange::Set(key, value) => {
                    values.insert(key.as_str().to_owned(), Value::String(value.clone()));
                }
                CacheChange::Remove(key) => {
                    values.remove(key.as_str());
                }
            }
        }
        if values.is_empty() {
            document.remove(account);
        }
    }
}

/// `N` random bytes as hexadecimal text.
fn random_hex<const N: usize>() -> Result<String, AwsStoreError> {
    crate::crypto::random_bytes::<N>()
        .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect())
        .map_err(|error| AwsStoreError::Runtime(error.to_string()))
}

impl AwsSecretStorage {
    /// The secret `secret` (a name or an ARN), with the AWS configuration profile `profile`
    /// (the default chain when `None`). Does not connect.
    pub fn open(profile: Option<&str>, secret: &str) -> Result<Self, AwsStoreError> {
        let described = match profile {
            Some(profile) => format!("aws:{profile}||{secret}"),
            None => format!("aws:{secret}"),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                secret: secret.to_owned(),
                profile: profile.map(str::to_owned),
                described,
                client: tokio::sync::OnceCell::new(),
                last_read: Mutex::new(None),
            }),
        })
    }

    /// The store for logs: `aws:[<profile>||]<secret>`.
    pub fn describe(&self) -> String {
        self.inner.described.clone()
    }

    /// Reads every account's cached keys from the secret's current version (empty when the
    /// secret or its value does not exist yet); while AWS cannot be reached, the last snapshot
    /// read, if there is one.
    pub async fn load(&self) -> Result<CacheSnapshot, AwsStoreError> {
        self.inner.load().await
    }

    /// Applies one account's changes to the secret, keeping every other account and key (see
    /// the module documentation for how concurrent writers are detected).
    pub async fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), AwsStoreError> {
        self.inner.apply(account, changes).await
    }

    /// Secrets Manager has no lock: the returned lock excludes no other process.
    pub async fn lock_account(&self, account: &str) -> Result<AccountLock, AwsStoreError> {
        let _ = account;
        Ok(AccountLock::unshared())
    }

    fn store_error(&self, error: AwsStoreError) -> StoreError {
        let store = self.inner.described.clone();
        match error {
            AwsStoreError::NotAnAccount { section } => StoreError::NotAnAccount { section },
            AwsStoreError::Conflict => StoreError::Conflict { store },
            other => StoreError::Backend {
                store,
                temporary: other.is_temporary(),
                source: Box::new(other),
            },
        }
    }
}

impl Inner {
    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let timeouts = aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(30))
                    .build();
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .timeout_config(timeouts);
                if let Some(profile) = &self.profile {
                    loader = loader.profile_name(profile);
                }
                Client::new(&loader.load().await)
            })
            .await
    }

    fn is_arn(&self) -> bool {
        self.secret.starts_with("arn:")
    }

    /// The current version, or `None` if the secret or its current value does not exist.
    async fn read(&self) -> Result<Option<Current>, AwsStoreError> {
        let result = self
            .client()
            .await
            .get_secret_value()
            .secret_id(&self.secret)
            // The default, said explicitly: emulators do not all follow the label's moves.
            .version_stage(CURRENT_STAGE)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(Current {
                document: parse_document(output.secret_string().unwrap_or_default())?,
                version: output.version_id().unwrap_or_default().to_owned(),
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(AwsStoreError::from_sdk("GetSecretValue", &error)),
        }
    }

    fn last_read(&self) -> std::sync::MutexGuard<'_, Option<CacheSnapshot>> {
        self.last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn load(&self) -> Result<CacheSnapshot, AwsStoreError> {
        match self.read().await {
            Ok(current) => {
                let snapshot = current
                    .map(|c| snapshot_of(&c.document))
                    .unwrap_or_default();
                *self.last_read() = Some(snapshot.clone());
                Ok(snapshot)
            }
            Err(error) if error.is_temporary() => {
                super::serve_last_read(&self.described, error, self.last_read().clone())
            }
            Err(error) => Err(error),
        }
    }

    async fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), AwsStoreError> {
        if !is_account_section(account) {
            return Err(AwsStoreError::NotAnAccount {
                section: account.to_owned(),
            });
        }
        let mut relevant = CacheChanges::new();
        for change in changes.iter().filter(|c| c.key().is_cached()) {
            match change {
                CacheChange::Set(key, value) => relevant.set(*key, value.clone()),
                CacheChange::Remove(key) => relevant.remove(*key),
            };
        }
        if relevant.is_empty() {
            return Ok(());
        }
        let mut pause = Duration::from_millis(50);
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.read().await?;
            let (mut document, read_version) = match current {
                Some(current) => (current.document, Some(current.version)),
                None => (Map::new(), None),
            };
            apply_to_document(&mut document, account, &relevant);
            let text = serde_json::to_string(&document).map_err(|error| AwsStoreError::Format {
                reason: error.to_string(),
            })?;
            let written = match read_version {
                Some(version) => self.replace(&text, &version).await?,
                None => self.first_value(&text).await?,
            };
            if written {
                if let Some(snapshot) = self.last_read().as_mut() {
                    *snapshot = snapshot_of(&document);
                }
                return Ok(());
            }
            // Another writer won the race: start again from its version.
            let jitter = crate::crypto::random_bytes::<1>().map_or(0, |b| u64::from(b[0]));
            let extra = Duration::from_millis(pause.as_millis() as u64 * jitter / 256);
            tokio::time::sleep(pause + extra).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
        Err(AwsStoreError::Conflict)
    }

    /// Writes `text` as a new version and makes it current only if `read_version` still is;
    /// `false` when another writer made a version current meanwhile.
    async fn replace(&self, text: &str, read_version: &str) -> Result<bool, AwsStoreError> {
        let client = self.client().await;
        let token = random_hex::<16>()?;
        let put = client
            .put_secret_value()
            .secret_id(&self.secret)
            .secret_string(text)
            .client_request_token(&token)
            .version_stages(PENDING_STAGE)
            .send()
            .await
            .map_err(|error| AwsStoreError::from_sdk("PutSecretValue", &error))?;
        let version = put.version_id().unwrap_or(&token).to_owned();
        let moved = client
            .update_secret_version_stage()
            .secret_id(&self.secret)
            .version_stage(CURRENT_STAGE)
            .move_to_version_id(&version)
            .remove_from_version_id(read_version)
            .send()
            .await;
        match moved {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_invalid_parameter_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(AwsStoreError::from_sdk("UpdateSecretVersionStage", &error)),
        }
    }

    /// The secret has no current value: creates it with `text` (unless an ARN names it), or
    /// gives the existing, empty secret its first value. `false` when another writer created it
    /// meanwhile.
    async fn first_value(&self, text: &str) -> Result<bool, AwsStoreError> {
        let client = self.client().await;
        if !self.is_arn() {
            let created = client
                .create_secret()
                .name(&self.secret)
                .secret_string(text)
                .client_request_token(random_hex::<16>()?)
                .send()
                .await;
            match created {
                Ok(_) => {
                    tracing::info!(store = %self.described, "created the token secret");
                    return Ok(true);
                }
                Err(error)
                    if !error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_exists_exception()) =>
                {
                    return Err(AwsStoreError::from_sdk("CreateSecret", &error));
                }
                // It exists: without a current value (else it would have been read), or
                // created by another writer just now.
                Err(_) => {}
            }
        }
        if self.read().await?.is_some() {
            return Ok(false);
        }
        let put = client
            .put_secret_value()
            .secret_id(&self.secret)
            .secret_string(text)
            .client_request_token(random_hex::<16>()?)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Err(AwsStoreError::NotFound)
            }
            Err(error) => {
                let error = AwsStoreError::from_sdk("PutSecretValue", &error);
                if error.code_is("ResourceNotFoundException") {
                    Err(AwsStoreError::NotFound)
                } else {
                    Err(error)
                }
            }
        }
    }
}

impl TokenStorage for AwsSecretStorage {
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        Box::pin(async move { self.inner.load().await.map_err(|e| self.store_error(e)) })
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.inner
                .apply(account, changes)
                .await
                .map_err(|e| self.store_error(e))
        })
    }

    fn describe(&self) -> String {
        self.inner.described.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_format_is_read_and_written() {
        let text = r#"{"alice@example.com": {"access_token": "gAAAAA-a", "access_token_expiry": 1767225600, "client_id": "kept-out"}, "not-an-account": {"x": "y"}, "bob@example.com": "junk"}"#;
        let mut document = parse_document(text).unwrap_or_else(|e| panic!("{e}"));
        let snapshot = snapshot_of(&document);
        assert_eq!(snapshot.accounts.len(), 1);
        let alice = &snapshot.accounts["alice@example.com"];
        assert_eq!(alice["access_token"], "gAAAAA-a");
        assert_eq!(alice["access_token_expiry"], "1767225600");
        assert!(!alice.contains_key("client_id"));

        let mut changes = CacheChanges::new();
        changes
            .set(CacheKey::RefreshToken, "gAAAAA-r")
            .remove(CacheKey::AccessToken);
        apply_to_document(&mut document, "alice@example.com", &changes);
        let written: Value =
            serde_json::from_str(&serde_json::to_string(&document).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(written["alice@example.com"]["refresh_token"], "gAAAAA-r");
        assert!(written["alice@example.com"].get("access_token").is_none());
        assert_eq!(written["not-an-account"]["x"], "y", "other content kept");

        let mut remove_all = CacheChanges::new();
        remove_all
            .remove(CacheKey::RefreshToken)
            .remove(CacheKey::AccessTokenExpiry);
        let mut only = parse_document(r#"{"c@x": {"refresh_token": "r"}}"#).unwrap_or_default();
        apply_to_document(&mut only, "c@x", &remove_all);
        assert!(only.is_empty(), "an account without keys is dropped");
    }

    #[test]
    fn bad_secrets_are_refused_without_quoting_them() {
        assert!(parse_document("").unwrap_or_default().is_empty());
        for text in ["[1]", "\"gAAAAA-secret\"", "{\"a\": gAAAAA-secret"] {
            let error = parse_document(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("not"), "{error}");
            assert!(!error.contains("gAAAAA"), "{error}");
        }
    }
}
