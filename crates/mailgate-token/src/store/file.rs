//! Token storage in an INI file: the configuration file itself, or a separate cache
//! store file (`--cache-store PATH`).
//!
//! Every update runs under an exclusive advisory lock on a sibling `<file>.lock`,
//! re-reads the file, applies only this update's keys to the fresh text (so edits the
//! user made meanwhile survive), and replaces the file atomically: a temporary file in
//! the same directory is written, flushed to disk, renamed over the original and the
//! directory is flushed. A crash leaves either the old or the new file, never a torn
//! or empty one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::storage::{AccountLock, CacheSnapshot, StoreError, StoreFuture, TokenStorage};
use crate::config::{
    CacheChange, CacheChanges, IniDocument, MAX_DOCUMENT_BYTES, is_account_section,
};

/// What the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// The configuration file, which also caches the tokens (the default).
    Config,
    /// A separate cache store: account sections with cached keys only; created when
    /// missing.
    CacheStore,
}

/// [`TokenStorage`] in an INI file.
///
/// Reads, writes and locks run on tokio's blocking pool (they wait for the disk and for other
/// processes' locks), so the methods need a tokio runtime.
///
/// Loads are cached: while the file's identity, size and change times stay the same, the
/// last snapshot is reused instead of reading and parsing the file again (every login loads
/// it). Any write, by this process or another, replaces the file with a new one and so
/// invalidates the cache.
#[derive(Clone)]
pub struct IniFileStorage {
    path: PathBuf,
    role: FileRole,
    /// The last snapshot loaded and the stamp of the file it came from (shared by clones).
    loaded: Arc<Mutex<Option<(FileStamp, CacheSnapshot)>>>,
}

impl std::fmt::Debug for IniFileStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IniFileStorage")
            .field("path", &self.path)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// What tells two versions of a file apart without reading them: which file it is, its size
/// and when it last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

impl FileStamp {
    /// The stamp of the file `path` names (through symbolic links).
    fn of(path: &Path) -> io::Result<FileStamp> {
        let metadata = fs::metadata(path)?;
        #[cfg(unix)]
        let (device, inode, changed) = {
            use std::os::unix::fs::MetadataExt as _;
            (
                metadata.dev(),
                metadata.ino(),
                (metadata.ctime(), metadata.ctime_nsec()),
            )
        };
        #[cfg(not(unix))]
        let (device, inode, changed) = (0, 0, (0, 0));
        Ok(FileStamp {
            device,
            inode,
            len: metadata.len(),
            modified: metadata.modified().ok(),
            changed,
        })
    }
}

impl IniFileStorage {
    /// Tokens kept in the configuration file at `path`.
    pub fn config_file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            role: FileRole::Config,
            loaded: Arc::default(),
        }
    }

    /// Tokens kept in a separate cache store file at `path`.
    pub fn cache_store(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            role: FileRole::CacheStore,
            loaded: Arc::default(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds.
    pub fn role(&self) -> FileRole {
        self.role
    }

    /// The file to write: the target of a symbolic link, so the link survives.
    fn target(&self) -> PathBuf {
        fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone())
    }

    fn lock_path(target: &Path) -> PathBuf {
        let mut name = target
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".lock");
        target.with_file_name(name)
    }

    /// The refresh lock file of `account`: `<file>.locks/<hash>.lock`, named by a hash
    /// so that no username can address another path.
    fn account_lock_path(target: &Path, account: &str) -> PathBuf {
        let mut name = target
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".locks");
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, account.as_bytes());
        let hash: String = digest
            .as_ref()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        target.with_file_name(name).join(format!("{hash}.lock"))
    }

    /// Reads the current document; a missing cache store is empty.
    fn read(&self, target: &Path) -> Result<IniDocument, StoreError> {
        let bytes = match fs::read(target) {
            Ok(bytes) => bytes,
            Err(error)
                if error.kind() == io::ErrorKind::NotFound && self.role == FileRole::CacheStore =>
            {
                return Ok(IniDocument::new());
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: target.to_owned(),
                    source,
                });
            }
        };
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(StoreError::TooLarge {
                path: target.to_owned(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|_| StoreError::NotUtf8 {
            path: target.to_owned(),
        })?;
        IniDocument::parse(&text).map_err(|error| StoreError::Parse {
            path: target.to_owned(),
            error,
        })
    }

    /// Runs `f` with the exclusive lock held.
    fn locked<T>(
        &self,
        target: &Path,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lock_path = Self::lock_path(target);
        let lock = open_private(&lock_path, false).map_err(|source| StoreError::Io {
            path: lock_path.clone(),
            source,
        })?;
        fs4::FileExt::lock(&lock).map_err(|source| StoreError::Io {
            path: lock_path.clone(),
            source,
        })?;
        let result = f();
        // Closing the file releases the lock even if unlocking fails.
        let _ = fs4::FileExt::unlock(&lock);
        result
    }
}

/// Creates `directory` with mode 0700 unless it exists; an existing one must be a directory
/// itself, not a symbolic link (which could point the lock files anywhere).
fn create_private_directory(directory: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    match builder.create(directory) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            if fs::symlink_metadata(directory)?.is_dir() {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a directory (a symbolic link or a file is in the way of the lock files)",
                ))
            }
        }
        other => other,
    }
}

/// Opens (creating with mode 0600) a file for writing. A symbolic link in its place is
/// refused (`O_NOFOLLOW`): it could make the proxy create or lock a file elsewhere.
fn open_private(path: &Path, create_new: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Replaces `target` with `contents` atomically (same-directory temporary file,
/// `fsync`, rename, directory `fsync`); the new file has mode 0600.
fn write_atomically(target: &Path, contents: &[u8]) -> io::Result<()> {
    let directory = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = crate::crypto::random_bytes::<6>()
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .unwrap_or_default();
    remove_stale_temporaries(&directory, &name);
    let temporary = directory.join(format!(".{name}.{}.{suffix}.tmp", std::process::id()));
    let result = (|| {
        let mut file = open_private(&temporary, true)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, target)
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    #[cfg(unix)]
    File::open(&directory)?.sync_all()?;
    Ok(())
}

/// Removes temporary files that writers killed mid-write left behind (`.<name>.<pid>.<random>.tmp`
/// of processes that no longer exist). Only where `/proc` tells which processes exist.
fn remove_stale_temporaries(directory: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(rest) = rest.strip_suffix(".tmp") else {
            continue;
        };
        let Some((pid, random)) = rest.split_once('.') else {
            continue;
        };
        let well_formed = !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && random.bytes().all(|b| b.is_ascii_hexdigit());
        if well_formed && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

impl IniFileStorage {
    fn load_blocking(&self) -> Result<CacheSnapshot, StoreError> {
        let before = FileStamp::of(&self.path).ok();
        if let Some(stamp) = before
            && let Ok(loaded) = self.loaded.lock()
            && let Some((cached, snapshot)) = loaded.as_ref()
            && *cached == stamp
        {
            return Ok(snapshot.clone());
        }
        let target = self.target();
        let snapshot = CacheSnapshot::from_document(&self.read(&target)?);
        // Cache only what is known to come from the stamped version: a file replaced while it
        // was read has another stamp afterwards.
        if let Some(stamp) = before
            && FileStamp::of(&self.path).ok() == Some(stamp)
            && let Ok(mut loaded) = self.loaded.lock()
        {
            *loaded = Some((stamp, snapshot.clone()));
        }
        Ok(snapshot)
    }

    /// An exclusive `flock` on `<file>.locks/<hash of the account>.lock` (mode 0600, in a
    /// directory of mode 0700): one file per account, so accounts never wait for each
    /// other, and separate from the write lock, so the holder can write.
    fn lock_account_blocking(&self, account: &str) -> Result<AccountLock, StoreError> {
        let path = Self::account_lock_path(&self.target(), account);
        let io_error = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        if let Some(directory) = path.parent() {
            create_private_directory(directory).map_err(io_error)?;
        }
        let file = open_private(&path, false).map_err(io_error)?;
        fs4::FileExt::lock(&file).map_err(io_error)?;
        // Closing the file releases the lock.
        Ok(AccountLock::new(file))
    }

    fn apply_blocking(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError> {
        if !is_account_section(account) {
            return Err(StoreError::NotAnAccount {
                section: account.to_owned(),
            });
        }
        let relevant: CacheChanges = match self.role {
            FileRole::Config => changes.clone(),
            // The Python email-oauth2-proxy leaves the plain client secret in the configuration file
            // in cache store mode (it tells users to remove it by hand).
            FileRole::CacheStore => {
                let mut kept = CacheChanges::new();
                for change in changes.iter().filter(|c| c.key().is_cached()) {
                    match change {
                        CacheChange::Set(key, value) => kept.set(*key, value.clone()),
                        CacheChange::Remove(key) => kept.remove(*key),
                    };
                }
                kept
            }
        };
        if relevant.is_empty() {
            return Ok(());
        }
        let target = self.target();
        self.locked(&target, || {
            let mut document = self.read(&target)?;
            let changed = document
                .apply(account, &relevant)
                .map_err(|error| StoreError::Edit {
                    section: account.to_owned(),
                    error,
                })?;
            if changed {
                write_atomically(&target, document.to_string().as_bytes()).map_err(|source| {
                    StoreError::Io {
                        path: target.clone(),
                        source,
                    }
                })?;
            }
            Ok(())
        })
    }
}

impl IniFileStorage {
    /// Runs `f` with a clone of this store on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&IniFileStorage) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|error| StoreError::Io {
                path: self.path.clone(),
                source: io::Error::other(error),
            })?
    }
}

impl TokenStorage for IniFileStorage {
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        Box::pin(self.blocking(IniFileStorage::load_blocking))
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        let account = account.to_owned();
        let changes = changes.clone();
        Box::pin(self.blocking(move |this| this.apply_blocking(&account, &changes)))
    }

    /// An exclusive `flock` on `<file>.locks/<hash of the account>.lock` (mode 0600, in a
    /// directory of mode 0700): one file per account, so accounts never wait for each other.
    fn lock_account<'a>(&'a self, account: &'a str) -> StoreFuture<'a, AccountLock> {
        let account = account.to_owned();
        Box::pin(self.blocking(move |this| this.lock_account_blocking(&account)))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
