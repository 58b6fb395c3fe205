//! Moving a token cache from one store to another (`mailgate store copy`).

use super::storage::{StoreError, TokenStorage};
use crate::config::{CacheChanges, CacheKey};

/// Copies every account's cached keys from `from` to `to`, exactly as stored (the encrypted
/// values are never decrypted): after the copy each account of `from` has the same cached
/// keys in `to` (keys `to` had that `from` lacks are removed); accounts only `to` has are
/// left as they are. Returns the accounts copied.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mailgate_token::store::StoreError> {
/// use mailgate_token::config::{CacheChanges, CacheKey};
/// use mailgate_token::store::{MemoryStorage, TokenStorage, copy_accounts};
///
/// let from = MemoryStorage::new();
/// let mut changes = CacheChanges::new();
/// changes.set(CacheKey::AccessToken, "gAAAAABencrypted");
/// from.apply("alice@example.com", &changes).await?;
/// let to = MemoryStorage::new();
/// assert_eq!(copy_accounts(&from, &to).await?, vec!["alice@example.com".to_owned()]);
/// assert_eq!(to.load().await?, from.load().await?);
/// # Ok(()) }
/// ```
pub async fn copy_accounts(
    from: &dyn TokenStorage,
    to: &dyn TokenStorage,
) -> Result<Vec<String>, StoreError> {
    let source = from.load().await?;
    let target = to.load().await?;
    let mut copied = Vec::new();
    for (account, values) in &source.accounts {
        let mut changes = CacheChanges::new();
        for (name, value) in values {
            if let Some(key) = CacheKey::from_name(name).filter(|k| k.is_cached()) {
                changes.set(key, value.clone());
            }
        }
        if let Some(existing) = target.accounts.get(account) {
            for name in existing.keys().filter(|name| !values.contains_key(*name)) {
                if let Some(key) = CacheKey::from_name(name) {
                    changes.remove(key);
                }
            }
        }
        to.apply(account, &changes).await?;
        copied.push(account.clone());
    }
    Ok(copied)
}
