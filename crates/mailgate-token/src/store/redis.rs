//! Token storage in Redis, shared by several mailgate processes
//! (`--cache-store redis://[user:password@]host:port/db`, or `rediss://` for TLS).
//!
//! # Layout
//!
//! Every key starts with a prefix (`mailgate:` unless the URL says `?key_prefix=...`):
//!
//! * `<prefix>account:<section>`: a hash of the account's cached keys (`access_token`,
//!   `refresh_token`, `token_salt`, ...), each value exactly the text the configuration file
//!   holds (Fernet tokens encrypted with the account's password): nothing is decrypted, so
//!   a store moves between a file, Redis and AWS Secrets Manager unchanged;
//! * `<prefix>accounts`: the set of account sections stored;
//! * `<prefix>lock:<section>`: the account's refresh lock while an instance holds it;
//! * `<prefix>store`: a random value written when the store is first used, so an instance
//!   notices a store that lost its data (a restart without persistence) and writes back the
//!   tokens it holds.
//!
//! # Consistency
//!
//! A write ([`RedisStorage::apply`]) changes one account's hash in one `MULTI`/`EXEC`
//! transaction, leaving every other key and account as it is. The refresh lock is
//! `SET <lock> <owner> NX PX <lease>` with a random owner token; its lease is renewed (a
//! script that extends it only while this owner holds it) every third of the lease while a
//! slow token request runs, and it is released only by its owner (a script that compares
//! and deletes). An instance that dies holding it (`kill -9`) blocks the account's refresh
//! for at most the lease (30 s unless `?lock_lease=SECONDS`); others wait with a bounded
//! back-off meanwhile.
//!
//! # An unreachable store
//!
//! A load that fails answers from the last snapshot this instance read (and the writes it
//! made since), so logins whose tokens are known keep working; a write that fails is a
//! [`StoreError::Backend`], which the [`LoginManager`](crate::login::LoginManager) keeps in
//! memory and retries. After a store lost its data, each instance writes back the accounts it holds,
//! the newest access token expiry winning.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, Script};

use super::storage::{AccountLock, CacheSnapshot, StoreError, StoreFuture, TokenStorage};
use crate::config::{CacheChange, CacheChanges, CacheKey, MAX_DOCUMENT_BYTES, is_account_section};

/// The key prefix unless the URL sets `key_prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "mailgate:";
/// The refresh lock's lease unless the URL sets `lock_lease` (seconds).
pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(30);
/// The longest lease `lock_lease` may ask for.
const MAX_LOCK_LEASE: Duration = Duration::from_secs(600);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`RedisStorage::lock_account`] waits for another instance's lock at most.
const LOCK_WAIT: Duration = Duration::from_secs(180);
/// The shortest and longest pause between two attempts to take a held lock.
const LOCK_RETRY_MIN: Duration = Duration::from_millis(20);
const LOCK_RETRY_MAX: Duration = Duration::from_millis(500);
/// How often an instance checks that Redis still holds the store (and writes back what it
/// holds after Redis lost its data), whether or not logins read it meanwhile.
const WATCH_INTERVAL: Duration = Duration::from_secs(5);
/// The most accounts a store may list (a bound on what a hostile store can make us read).
const MAX_ACCOUNTS: usize = 100_000;

/// Why a Redis token store could not be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The `--cache-store` URL is not a usable Redis URL (the message never contains it).
    #[error("the Redis URL is not valid: {reason}")]
    Url {
        /// What is wrong.
        reason: String,
    },
    /// Redis could not be reached, or refused the request.
    #[error("{store}: {source}")]
    Redis {
        /// The store, password redacted.
        store: String,
        /// The client's error.
        source: RedisError,
    },
    /// The store holds more than a configuration file could.
    #[error(
        "{store}: the store holds more than {MAX_DOCUMENT_BYTES} bytes or {MAX_ACCOUNTS} accounts; nothing was read"
    )]
    TooLarge {
        /// The store, password redacted.
        store: String,
    },
    /// Another instance held the account's refresh lock for longer than a refresh can take.
    #[error("another instance held the refresh lock of account {account} in {store} for {} s", LOCK_WAIT.as_secs())]
    LockWait {
        /// The store, password redacted.
        store: String,
        /// The account.
        account: String,
    },
    /// Tokens were addressed to a section that is not an account (a bug in the caller).
    #[error("[{section}] is not an account section (account sections contain `@`)")]
    NotAnAccount {
        /// The section.
        section: String,
    },
    /// The system's random generator failed (no owner token for the lock).
    #[error("{0}")]
    Runtime(String),
}

impl RedisStoreError {
    /// Whether retrying later may succeed (Redis unreachable, restarting, or busy).
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Redis { source, .. } => connection_failed(source),
            Self::LockWait { .. } => true,
            Self::Url { .. } | Self::TooLarge { .. } | Self::NotAnAccount { .. } => false,
            Self::Runtime(_) => false,
        }
    }
}

impl From<RedisStoreError> for StoreError {
    fn from(error: RedisStoreError) -> Self {
        let temporary = error.is_temporary();
        match error {
            RedisStoreError::NotAnAccount { section } => StoreError::NotAnAccount { section },
            // The store is named once, by the outer error.
            RedisStoreError::Redis { store, source } => StoreError::Backend {
                store,
                temporary,
                source: Box::new(source),
            },
            RedisStoreError::TooLarge { ref store }
            | RedisStoreError::LockWait { ref store, .. } => StoreError::Backend {
                store: store.clone(),
                temporary,
                source: Box::new(error),
            },
            other => StoreError::Backend {
                store: "redis".to_owned(),
                temporary,
                source: Box::new(other),
            },
        }
    }
}

/// Whether the connection itself failed (so a new one may succeed).
fn connection_failed(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}

/// Tokens in Redis, shared by several processes.
///
/// Opening does not connect: the first use does, and every use after a failure tries a new
/// connection.
///
/// ```
/// use mailgate_token::store::RedisStorage;
///
/// let store = RedisStorage::open("redis://mailgate:hunter2@127.0.0.1:6379/2?lock_lease=10")?;
/// assert_eq!(store.describe(), "redis://mailgate:***@127.0.0.1:6379/2");
/// assert!(!format!("{store:?}").contains("hunter2"));
/// # Ok::<(), mailgate_token::store::RedisStoreError>(())
/// ```
#[derive(Clone)]
pub struct RedisStorage {
    inner: Arc<Inner>,
}

/// What an instance knows of the store's content.
#[derive(Debug, Default)]
struct Held {
    /// The last snapshot read, with this instance's writes since.
    read: Option<CacheSnapshot>,
    /// The writes of this instance before it first read the store.
    written: CacheSnapshot,
}

impl Held {
    /// What to write back after the store lost its data.
    fn restore_source(&self) -> CacheSnapshot {
        self.read.clone().unwrap_or_else(|| self.written.clone())
    }
}

struct Inner {
    client: redis::Client,
    described: String,
    prefix: String,
    lease: Duration,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// The last snapshot read and the writes made since: answered while Redis is unreachable
    /// and written back after Redis lost its data.
    held: Mutex<Held>,
    /// The value of `<prefix>store` when this instance last connected.
    seen_epoch: Mutex<Option<String>>,
    /// Whether the task that watches the store runs.
    watching: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStorage")
            .field("store", &self.inner.described)
            .field("lease", &self.inner.lease)
            .finish_non_exhaustive()
    }
}

/// Splits the store's own query parameters (`key_prefix`, `lock_lease`) off `url`.
fn own_parameters(url: &str) -> Result<(String, String, Duration), RedisStoreError> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut prefix = DEFAULT_KEY_PREFIX.to_owned();
    let mut lease = DEFAULT_LOCK_LEASE;
    let mut passed = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "key_prefix" => {
                prefix = percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map_err(|_| RedisStoreError::Url {
                        reason: "key_prefix is not UTF-8".to_owned(),
                    })?
                    .into_owned();
            }
            "lock_lease" => {
                let seconds: u64 = value.parse().map_err(|_| RedisStoreError::Url {
                    reason: format!("lock_lease={value:?} is not a number of seconds"),
                })?;
                lease = Duration::from_secs(seconds);
                if lease.is_zero() || lease > MAX_LOCK_LEASE {
                    return Err(RedisStoreError::Url {
                        reason: format!(
                            "lock_lease must be 1 to {} seconds",
                            MAX_LOCK_LEASE.as_secs()
                        ),
                    });
                }
            }
            _ => passed.push(pair),
        }
    }
    let url = if passed.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", passed.join("&"))
    };
    Ok((url, prefix, lease))
}

/// `count` random bytes as hexadecimal text.
fn random_hex<const N: usize>() -> Result<String, RedisStoreError> {
    crate::crypto::random_bytes::<N>()
        .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect())
        .map_err(|error| RedisStoreError::Runtime(error.to_string()))
}

/// Extends the lock's lease only while `owner` holds it.
const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Deletes the lock only while `owner` holds it.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Writes an account back after the store lost its data: only if the store has no such
/// account, or one whose access token expires before the one written back.
/// KEYS: the account's hash, the index. ARGV: the section, the expiry (or ''), field/value pairs.
const RESTORE_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  local mine = tonumber(ARGV[2])
  if not mine then return 0 end
  local stored = tonumber(redis.call('HGET', KEYS[1], 'access_token_expiry'))
  if stored and stored >= mine then return 0 end
end
redis.call('DEL', KEYS[1])
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('SADD', KEYS[2], ARGV[1])
return 1";

impl RedisStorage {
    /// A store at `url`: `redis://[user:password@]host:port/db` or `rediss://...` (TLS,
    /// verified against the system's roots), optionally with `?key_prefix=...` and
    /// `?lock_lease=SECONDS`. Does not connect.
    pub fn open(url: &str) -> Result<Self, RedisStoreError> {
        let described = super::location::redact_url(url);
        let (client_url, prefix, lease) = own_parameters(url)?;
        let client = redis::Client::open(client_url.as_str()).map_err(|error| {
            // The client's message may quote the URL, password included: name only the kind.
            RedisStoreError::Url {
                reason: format!("{:?} ({})", error.kind(), described),
            }
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                described,
                prefix,
                lease,
                connection: tokio::sync::Mutex::new(None),
                held: Mutex::new(Held::default()),
                seen_epoch: Mutex::new(None),
                watching: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The store for logs: its URL without the password.
    pub fn describe(&self) -> String {
        self.inner.described.clone()
    }

    /// The refresh lock's lease.
    pub fn lock_lease(&self) -> Duration {
        self.inner.lease
    }

    /// Reads every account's cached keys, fresh from Redis; while Redis cannot be reached,
    /// the last snapshot this instance read (with its writes since), if it read one.
    pub async fn load(&self) -> Result<CacheSnapshot, RedisStoreError> {
        Inner::watch(&self.inner);
        self.inner.load().await
    }

    /// Applies `changes` to `account` in one transaction, leaving every other account and
    /// key as it is. Only cached keys are stored (never a plain `client_secret`).
    pub async fn apply(
        &self,
        account: &str,
        changes: &CacheChanges,
    ) -> Result<(), RedisStoreError> {
        self.inner.apply(account, changes).await
    }

    /// Takes the account's refresh lock, waiting (with a bounded back-off) while another
    /// instance holds it; the lease is renewed until the returned lock is dropped, which
    /// releases it. Call it from within a tokio runtime.
    pub async fn lock_account(&self, account: &str) -> Result<AccountLock, RedisStoreError> {
        Inner::lock_account(&self.inner, account).await
    }
}

impl Inner {
    /// Starts (once, on the caller's runtime) the task that reads the store's marker every
    /// [`WATCH_INTERVAL`]: a Redis that restarted without its data is noticed, and the accounts
    /// this instance holds are written back, even while no login reads the store. The task
    /// ends with the store.
    fn watch(this: &Arc<Self>) {
        if this
            .watching
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            this.watching
                .store(false, std::sync::atomic::Ordering::Release);
            return;
        };
        let weak = Arc::downgrade(this);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(WATCH_INTERVAL).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let mut get = redis::cmd("GET");
                get.arg(inner.epoch_key());
                if let Err(error) = inner.query::<Option<String>>(&Request::Cmd(&get)).await {
                    tracing::debug!(store = %inner.described, %error, "the token store cannot be reached");
                }
            }
        });
    }

    fn account_key(&self, account: &str) -> String {
        format!("{}account:{account}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}accounts", self.prefix)
    }

    fn lock_key(&self, account: &str) -> String {
        format!("{}lock:{account}", self.prefix)
    }

    fn epoch_key(&self) -> String {
        format!("{}store", self.prefix)
    }

    fn error(&self, source: RedisError) -> RedisStoreError {
        RedisStoreError::Redis {
            store: self.described.clone(),
            source,
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shared connection, connecting (and checking the store's epoch) if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisStoreError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.error(e))?;
        self.check_epoch(&mut connection).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection after `error` if it was the connection that failed.
    async fn failed(&self, error: RedisError) -> RedisStoreError {
        if connection_failed(&error) {
            *self.connection.lock().await = None;
        }
        self.error(error)
    }

    /// Runs `request` on the connection, once more on a new connection if the first failed
    /// for a connection error (e.g. Redis restarted). Every request of this store may run
    /// twice without harm.
    async fn query<T: redis::FromRedisValue>(
        &self,
        request: &Request<'_>,
    ) -> Result<T, RedisStoreError> {
        let mut retried = false;
        loop {
            let mut connection = self.connection().await?;
            let result = match request {
                Request::Cmd(cmd) => cmd.query_async(&mut connection).await,
                Request::Pipe(pipe) => pipe.query_async(&mut connection).await,
                Request::Script(script, keys, args) => {
                    let mut invocation = script.prepare_invoke();
                    for key in *keys {
                        invocation.key(key);
                    }
                    for arg in *args {
                        invocation.arg(arg);
                    }
                    invocation.invoke_async(&mut connection).await
                }
            };
            match result {
                Ok(value) => return Ok(value),
                Err(error) if connection_failed(&error) && !retried => {
                    *self.connection.lock().await = None;
                    retried = true;
                }
                Err(error) => return Err(self.failed(error).await),
            }
        }
    }

    /// On a new connection: marks a new store, and writes back the accounts this instance
    /// holds if the store is not the one it saw before (it lost its data).
    async fn check_epoch(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<(), RedisStoreError> {
        let key = self.epoch_key();
        let fresh = random_hex::<16>()?;
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&fresh)
            .arg("NX")
            .query_async(connection)
            .await
            .map_err(|e| self.error(e))?;
        let epoch: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(connection)
            .await
            .map_err(|e| self.error(e))?;
        let previous = std::mem::replace(
            &mut *self
                .seen_epoch
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            epoch.clone(),
        );
        let lost = previous.is_some() && previous != epoch;
        if !lost {
            return Ok(());
        }
        let held = self.held().restore_source();
        tracing::warn!(
            store = %self.described,
            accounts = held.accounts.len(),
            "the token store lost its data (restarted without persistence?); writing back the accounts this instance holds"
        );
        let script = Script::new(RESTORE_SCRIPT);
        for (account, values) in &held.accounts {
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.account_key(account))
                .key(self.index_key())
                .arg(account)
                .arg(
                    values
                        .get(CacheKey::AccessTokenExpiry.as_str())
                        .map_or("", String::as_str),
                );
            for (name, value) in values {
                invocation.arg(name).arg(value);
            }
            let _: i64 = invocation
                .invoke_async(connection)
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    async fn load(&self) -> Result<CacheSnapshot, RedisStoreError> {
        match self.load_fresh().await {
            Ok(snapshot) => {
                *self.held() = Held {
                    read: Some(snapshot.clone()),
                    written: CacheSnapshot::default(),
                };
                Ok(snapshot)
            }
            Err(error) if error.is_temporary() => {
                let last_read = self.held().read.clone();
                super::serve_last_read(&self.described, error, last_read)
            }
            Err(error) => Err(error),
        }
    }

    async fn load_fresh(&self) -> Result<CacheSnapshot, RedisStoreError> {
        let mut members = redis::cmd("SMEMBERS");
        members.arg(self.index_key());
        let names: Vec<String> = self.query(&Request::Cmd(&members)).await?;
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| is_account_section(n))
            .collect();
        if names.len() > MAX_ACCOUNTS {
            return Err(RedisStoreError::TooLarge {
                store: self.described.clone(),
            });
        }
        if names.is_empty() {
            return Ok(CacheSnapshot::default());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for name in &names {
            pipe.cmd("HGETALL").arg(self.account_key(name));
        }
        let hashes: Vec<BTreeMap<String, String>> = self.query(&Request::Pipe(&pipe)).await?;
        let mut snapshot = CacheSnapshot::default();
        let mut total = 0usize;
        for (name, hash) in names.into_iter().zip(hashes) {
            let values: BTreeMap<String, String> = hash
                .into_iter()
                .filter(|(key, _)| CacheKey::from_name(key).is_some_and(CacheKey::is_cached))
                .collect();
            total = values
                .iter()
                .fold(total.saturating_add(name.len()), |sum, (k, v)| {
                    sum.saturating_add(k.len()).saturating_add(v.len())
                });
            if total > MAX_DOCUMENT_BYTES {
                return Err(RedisStoreError::TooLarge {
                    store: self.described.clone(),
                });
            }
            if !values.is_empty() {
                snapshot.accounts.insert(name, values);
            }
        }
        Ok(snapshot)
    }

    async fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), RedisStoreError> {
        if !is_account_section(account) {
            return Err(RedisStoreError::NotAnAccount {
                section: account.to_owned(),
            });
        }
        let key = self.account_key(account);
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut relevant = CacheChanges::new();
        for change in changes.iter().filter(|c| c.key().is_cached()) {
            match change {
                CacheChange::Set(name, value) => {
                    pipe.cmd("HSET")
                        .arg(&key)
                        .arg(name.as_str())
                        .arg(value)
                        .ignore();
                    relevant.set(*name, value.clone());
                }
                CacheChange::Remove(name) => {
                    pipe.cmd("HDEL").arg(&key).arg(name.as_str()).ignore();
                    relevant.remove(*name);
                }
            }
        }
        if relevant.is_empty() {
            return Ok(());
        }
        pipe.cmd("SADD").arg(self.index_key()).arg(account).ignore();
        let () = self.query(&Request::Pipe(&pipe)).await?;
        let mut held = self.held();
        let known = match held.read.as_mut() {
            Some(read) => read,
            None => &mut held.written,
        };
        known.apply(account, &relevant);
        if known.accounts.get(account).is_some_and(BTreeMap::is_empty) {
            known.accounts.remove(account);
        }
        Ok(())
    }

    async fn lock_account(this: &Arc<Self>, account: &str) -> Result<AccountLock, RedisStoreError> {
        let key = this.lock_key(account);
        let owner = random_hex::<16>()?;
        let lease_ms = u64::try_from(this.lease.as_millis()).unwrap_or(u64::MAX);
        let mut set = redis::cmd("SET");
        set.arg(&key).arg(&owner).arg("NX").arg("PX").arg(lease_ms);
        let mut get = redis::cmd("GET");
        get.arg(&key);
        let started = tokio::time::Instant::now();
        let mut pause = LOCK_RETRY_MIN;
        loop {
            let taken: Option<String> = this.query(&Request::Cmd(&set)).await?;
            if taken.is_some() {
                break;
            }
            // A reply lost to a dropped connection: the first attempt may have taken it.
            let holder: Option<String> = this.query(&Request::Cmd(&get)).await?;
            if holder.as_deref() == Some(owner.as_str()) {
                break;
            }
            if started.elapsed() >= LOCK_WAIT {
                return Err(RedisStoreError::LockWait {
                    store: this.described.clone(),
                    account: account.to_owned(),
                });
            }
            // Up to half again as long, so waiting instances do not retry in step.
            let jitter = crate::crypto::random_bytes::<1>().map_or(0, |b| u64::from(b[0]));
            let extra = pause.as_millis() as u64 * jitter / 512;
            tokio::time::sleep(pause + Duration::from_millis(extra)).await;
            pause = (pause * 2).min(LOCK_RETRY_MAX);
        }
        let renewal = tokio::spawn(Self::renew(
            Arc::clone(this),
            key.clone(),
            owner.clone(),
            account.to_owned(),
        ));
        Ok(AccountLock::new(HeldLock {
            inner: Arc::clone(this),
            key,
            owner,
            renewal,
            runtime: tokio::runtime::Handle::current(),
        }))
    }

    /// Extends the lease every third of it while the lock is held; stops when another owner
    /// has it (the lease ran out meanwhile, e.g. while Redis was unreachable).
    async fn renew(this: Arc<Self>, key: String, owner: String, account: String) {
        let script = Script::new(RENEW_SCRIPT);
        let lease_ms = u64::try_from(this.lease.as_millis()).unwrap_or(u64::MAX);
        let keys = [key];
        let args = [owner, lease_ms.to_string()];
        loop {
            tokio::time::sleep(this.lease / 3).await;
            match this
                .query::<i64>(&Request::Script(&script, &keys, &args))
                .await
            {
                Ok(1) => {}
                Ok(_) => {
                    tracing::warn!(
                        account = %account,
                        store = %this.described,
                        "the account's refresh lock expired while its refresh ran; another instance may refresh it at the same time"
                    );
                    return;
                }
                Err(error) => tracing::warn!(
                    account = %account,
                    %error,
                    "unable to renew the account's refresh lock; retrying"
                ),
            }
        }
    }
}

/// A request [`Inner::query`] can send again.
enum Request<'a> {
    Cmd(&'a redis::Cmd),
    Pipe(&'a redis::Pipeline),
    Script(&'a Script, &'a [String], &'a [String]),
}

/// A held refresh lock: renewed until dropped, then released if still ours.
struct HeldLock {
    inner: Arc<Inner>,
    key: String,
    owner: String,
    renewal: tokio::task::JoinHandle<()>,
    runtime: tokio::runtime::Handle,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.renewal.abort();
        let inner = Arc::clone(&self.inner);
        let keys = [std::mem::take(&mut self.key)];
        let args = [std::mem::take(&mut self.owner)];
        self.runtime.spawn(async move {
            let script = Script::new(RELEASE_SCRIPT);
            if let Err(error) = inner
                .query::<i64>(&Request::Script(&script, &keys, &args))
                .await
            {
                tracing::debug!(%error, "unable to release a refresh lock; its lease ends it");
            }
        });
    }
}

impl TokenStorage for RedisStorage {
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        Box::pin(async move {
            Inner::watch(&self.inner);
            self.inner.load().await.map_err(StoreError::from)
        })
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.inner
                .apply(account, changes)
                .await
                .map_err(StoreError::from)
        })
    }

    fn lock_account<'a>(&'a self, account: &'a str) -> StoreFuture<'a, AccountLock> {
        Box::pin(async move {
            Inner::lock_account(&self.inner, account)
                .await
                .map_err(StoreError::from)
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
    fn own_parameters_are_taken_out() {
        let (url, prefix, lease) =
            own_parameters("redis://h:1/0?key_prefix=team%3A&protocol=resp3&lock_lease=5")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, "redis://h:1/0?protocol=resp3");
        assert_eq!(prefix, "team:");
        assert_eq!(lease, Duration::from_secs(5));
        assert!(own_parameters("redis://h/0?lock_lease=0").is_err());
        assert!(own_parameters("redis://h/0?lock_lease=x").is_err());
    }
}
