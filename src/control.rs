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

/// The control socket path for a configuration file.
pub(crate) fn socket_path(config_file: &Path) -> PathBuf {
    let mut name = config_file.as_os_str().to_owned();
    name.push(".authorize.sock");
    PathBuf::from(name)
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
