//! The control socket through which `mailgate authorize` completes pending authorisations of
//! a running proxy (Unix only).
//!
//! The socket lives next to the configuration file (`<config file>.authorize.sock`), is
//! created readable and writable by its owner only, and speaks one line-based request per
//! connection:
//!
//! * `LIST` → one `PENDING <account> <url>` line per waiting login, then `END`;
//! * `STATUS` → the live status report (`mailgate status`) as one line of JSON;
//! * `COMPLETE <account> <redirect URL>` → `OK <account>` or `ERR <reason>`.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use mailgate_proxy::AcceptBackoff;
use mailgate_proxy::authorization::PendingAuthorizations;

use crate::status::board::Board;

/// Longest request line accepted.
const MAX_REQUEST: u64 = 16 * 1024;

/// The longest socket path bound next to the configuration file: `sun_path` holds 108 bytes
/// on Linux (104 on the BSDs), the terminating NUL included.
const MAX_SOCKET_PATH: usize = 100;

/// The control socket path for a configuration file: `<config file>.authorize.sock`, or, when
/// that path is too long for a Unix socket, `mailgate-<hash>.sock` in `$XDG_RUNTIME_DIR` (else
/// in an owner-only `mailgate-<uid>` directory of the temporary directory), named after the
/// configuration file's absolute path so that `mailgate status` and `mailgate authorize` find
/// it.
pub(crate) fn socket_path(config_file: &Path) -> PathBuf {
    let mut name = config_file.as_os_str().to_owned();
    name.push(".authorize.sock");
    let beside = PathBuf::from(name);
    if beside.as_os_str().len() <= MAX_SOCKET_PATH {
        return beside;
    }
    let absolute = std::fs::canonicalize(config_file).unwrap_or_else(|_| config_file.to_owned());
    // FNV-1a: a stable name, not a secret.
    let hash = absolute
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    runtime_directory().join(format!("mailgate-{hash:016x}.sock"))
}

/// Where sockets go when they cannot go beside the configuration file.
fn runtime_directory() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => private_temporary_directory(),
    }
}

/// The owner-only directory of this user in the temporary directory.
fn private_temporary_directory() -> PathBuf {
    std::env::temp_dir().join(format!("mailgate-{}", rustix::process::getuid().as_raw()))
}

/// When `path` is in the private temporary directory: creates that directory owner-only, and
/// refuses one that someone else owns, that others may enter or that is a symbolic link.
/// Anywhere else (beside the configuration file, in `$XDG_RUNTIME_DIR`) nothing is done.
fn prepare_directory(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let Some(directory) = path.parent() else {
        return Ok(());
    };
    if directory != private_temporary_directory() {
        return Ok(());
    }
    match std::fs::create_dir(directory) {
        Ok(()) => std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))?,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    let metadata = std::fs::symlink_metadata(directory)?;
    if !metadata.is_dir()
        || metadata.uid() != rustix::process::getuid().as_raw()
        || metadata.mode() & 0o077 != 0
    {
        return Err(io::Error::other(format!(
            "{} is not a private directory of this user",
            directory.display()
        )));
    }
    Ok(())
}

/// A running control socket; removes its file when dropped.
#[derive(Debug)]
pub(crate) struct ControlSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts serving `pending` on `path` (a stale socket file is replaced).
pub(crate) fn serve(
    path: &Path,
    pending: PendingAuthorizations,
    board: Board,
) -> io::Result<ControlSocket> {
    prepare_directory(path)?;
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    let described = format!("the control socket {}", path.display());
    let task = tokio::spawn(async move {
        let mut backoff = AcceptBackoff::default();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    backoff.failed(&described, &error).await;
                    continue;
                }
            };
            backoff.accepted(|| described.clone());
            let pending = pending.clone();
            let board = board.clone();
            tokio::spawn(async move {
                let _ = answer(stream, pending, board).await;
            });
        }
    });
    Ok(ControlSocket {
        path: path.to_path_buf(),
        task,
    })
}

async fn answer(
    stream: UnixStream,
    pending: PendingAuthorizations,
    board: Board,
) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read)
        .take(MAX_REQUEST)
        .read_line(&mut line)
        .await?;
    let line = line.trim();
    let reply = if line == "STATUS" {
        match serde_json::to_string(&board.report()) {
            Ok(json) => json + "\n",
            Err(error) => format!("ERR {error}\n"),
        }
    } else if line == "LIST" {
        let mut reply = String::new();
        for (account, url) in pending.list() {
            reply.push_str(&format!("PENDING {account} {url}\n"));
        }
        reply.push_str("END\n");
        reply
    } else if let Some(rest) = line.strip_prefix("COMPLETE ") {
        let (account, url) = rest.split_once(' ').unwrap_or((rest, ""));
        match pending.complete(Some(account), url) {
            Ok(account) => {
                tracing::info!(
                    "Received the authorisation of account {account} from `mailgate authorize`"
                );
                format!("OK {account}\n")
            }
            Err(error) => format!("ERR {error}\n"),
        }
    } else {
        "ERR unknown request\n".to_owned()
    };
    write.write_all(reply.as_bytes()).await?;
    write.shutdown().await
}

/// Sends one request to the control socket at `path` and returns the reply lines.
pub(crate) async fn request(path: &Path, request: &str) -> io::Result<Vec<String>> {
    let stream = UnixStream::connect(path).await?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{}\n", request.replace(['\r', '\n'], " ")).as_bytes())
        .await?;
    write.shutdown().await?;
    let mut lines = Vec::new();
    let mut reader = BufReader::new(read).take(1024 * 1024);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(lines);
        }
        lines.push(line.trim_end().to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_socket_is_served_beside_a_configuration_file_in_a_shared_directory() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir =
            std::env::temp_dir().join(format!("mailgate-control-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        let path = socket_path(&dir.join("emailproxy.config"));
        let pending = PendingAuthorizations::new();
        let board = Board::new(pending.clone(), crate::status::events::EventSink::default());
        let socket = serve(&path, pending, board);
        assert!(socket.is_ok(), "{:?}", socket.err());
        let reply = request(&path, "STATUS").await.unwrap_or_default();
        assert!(
            reply
                .first()
                .is_some_and(|line| line.contains("\"state\":\"ok\"")),
            "{reply:?}"
        );
        drop(socket);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn long_configuration_paths_get_a_short_socket_path() {
        let short = Path::new("/etc/mailgate/emailproxy.config");
        assert_eq!(
            socket_path(short),
            Path::new("/etc/mailgate/emailproxy.config.authorize.sock")
        );
        let long = PathBuf::from(format!("/srv/{}/emailproxy.config", "deep/".repeat(30)));
        let path = socket_path(&long);
        assert!(
            path.as_os_str().len() <= MAX_SOCKET_PATH,
            "{}",
            path.display()
        );
        assert_eq!(
            path,
            socket_path(&long),
            "stable for one configuration file"
        );
        let other = PathBuf::from(format!("/srv/{}/other.config", "deep/".repeat(30)));
        assert_ne!(path, socket_path(&other));
    }
}
