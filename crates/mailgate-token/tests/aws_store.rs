//! `AwsSecretStorage` against `moto_server` (PyPI `moto[server]`), an AWS emulator the test
//! starts on a free loopback port; skipped, saying so, when it is not installed. The stores
//! run in child processes of this test binary, which get the SDK's standard environment
//! (`AWS_ENDPOINT_URL` pointing at the emulator); the secret is also written and read the way
//! the Python email-oauth2-proxy does it, with boto3 (which moto brings).
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mailgate_token::config::{CacheChanges, CacheKey};
use mailgate_token::store::{AwsSecretStorage, TokenStorage};

mod support;

const CHILD_ENV: &str = "MAILGATE_AWS_STORE_CHILD";
const ROUNDS: usize = 25;
/// A directory where children say they are ready and wait for the go.
const BARRIER_ENV: &str = "MAILGATE_AWS_STORE_BARRIER";

/// Child body (run only when the tests below spawn it): `write <secret> <account>` writes the
/// account [`ROUNDS`] times; `missing <secret>` tries one write to a secret that must not be
/// created.
#[test]
#[ignore = "spawned by the tests of this file"]
fn aws_store_child() {
    let Ok(command) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(child(&command));
}

async fn child(command: &str) {
    let words: Vec<&str> = command.split(' ').collect();
    let store = AwsSecretStorage::open(None, words[1]).unwrap();
    let store: &dyn TokenStorage = &store;
    match words[0] {
        "write" => {
            let account = words[2];
            // Ready (the client set up), then all writers start at once.
            store.load().await.unwrap();
            if let Ok(barrier) = std::env::var(BARRIER_ENV) {
                let barrier = std::path::Path::new(&barrier);
                std::fs::write(barrier.join(format!("ready-{account}")), "").unwrap();
                for _ in 0..3000 {
                    if barrier.join("go").exists() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            for round in 0..ROUNDS {
                let mut changes = CacheChanges::new();
                changes
                    .set(CacheKey::AccessToken, format!("gAAAAA-{account}-{round}"))
                    .set(
                        CacheKey::AccessTokenExpiry,
                        (1_900_000_000 + round).to_string(),
                    );
                store.apply(account, &changes).await.unwrap();
            }
            let snapshot = store.load().await.unwrap();
            println!("@@ {}", snapshot.accounts.len());
        }
        "missing" => {
            let mut changes = CacheChanges::new();
            changes.set(CacheKey::AccessToken, "gAAAAA-x");
            match store.apply("alice@example.com", &changes).await {
                Ok(()) => println!("@@ written"),
                Err(error) => println!("@@ error {error}"),
            }
        }
        other => panic!("unknown child command {other}"),
    }
}

/// A `moto_server` of one test; killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Option<Moto> {
        if !support::test_server_installed("moto_server", "pip install 'moto[server]'") {
            return None;
        }
        let port = support::free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, port };
        // Bounded wait until it listens.
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(moto);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("moto_server did not start on port {port}");
    }

    fn environment(&self, command: &mut Command) {
        command
            .env(
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }

    /// A child process of this test binary running `command` against the emulator.
    fn child(&self, command: &str, barrier: Option<&std::path::Path>) -> Child {
        let mut child = Command::new(std::env::current_exe().unwrap());
        if let Some(barrier) = barrier {
            child.env(BARRIER_ENV, barrier);
        }
        child
            .args([
                "--ignored",
                "--exact",
                "aws_store_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, command)
            .stdout(Stdio::piped());
        self.environment(&mut child);
        child.spawn().unwrap()
    }

    /// Runs Python with boto3 against the emulator: the Python email-oauth2-proxy's calls.
    fn python(&self, script: &str) -> String {
        let mut command = Command::new("python3");
        command.args(["-c", script]);
        self.environment(&mut command);
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn report(child: Child) -> String {
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "child failed: {text}");
    text.lines()
        .find_map(|line| line.split_once("@@ ").map(|(_, r)| r.to_owned()))
        .unwrap_or_else(|| panic!("no report: {text}"))
}

#[test]
fn two_processes_share_a_secret_in_the_python_format_and_lose_no_account() {
    let Some(moto) = Moto::start() else {
        return;
    };
    // The Python email-oauth2-proxy creates the secret without a value, then puts the cache:
    // json.dumps({account: {key: value}}).
    moto.python(
        "import boto3, json\n\
         c = boto3.client('secretsmanager')\n\
         c.create_secret(Name='team-tokens', ForceOverwriteReplicaSecret=False)\n\
         c.put_secret_value(SecretId='team-tokens', SecretString=json.dumps(\
         {'carol@example.com': {'access_token': 'gAAAAA-carol', 'access_token_expiry': '1767225600'}}))\n",
    );
    let barrier = tempfile::tempdir().unwrap();
    let writers = [
        moto.child("write team-tokens alice@example.com", Some(barrier.path())),
        moto.child("write team-tokens bob@example.com", Some(barrier.path())),
    ];
    // Bounded wait until both are ready, then both write at once.
    for _ in 0..3000 {
        if std::fs::read_dir(barrier.path()).unwrap().count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(barrier.path().join("go"), "").unwrap();
    let reports: Vec<String> = writers.into_iter().map(report).collect();
    for report in &reports {
        assert!(report.parse::<usize>().unwrap() >= 2, "{reports:?}");
    }
    // What mailgate wrote, read the way the Python proxy reads it (the label named: moto's
    // default version does not follow UpdateSecretVersionStage, unlike AWS's).
    let read = moto.python(
        "import boto3, json\n\
         c = boto3.client('secretsmanager')\n\
         cache = json.loads(c.get_secret_value(SecretId='team-tokens', VersionStage='AWSCURRENT')['SecretString'])\n\
         assert all(isinstance(v, str) for a in cache.values() for v in a.values())\n\
         print(json.dumps(cache, sort_keys=True))\n",
    );
    let cache: serde_json::Value = serde_json::from_str(&read).unwrap();
    let last = ROUNDS - 1;
    assert_eq!(
        cache["alice@example.com"]["access_token"],
        format!("gAAAAA-alice@example.com-{last}")
    );
    assert_eq!(
        cache["bob@example.com"]["access_token"],
        format!("gAAAAA-bob@example.com-{last}")
    );
    assert_eq!(cache["carol@example.com"]["access_token"], "gAAAAA-carol");
    assert_eq!(cache.as_object().unwrap().len(), 3);
}

#[test]
fn a_missing_secret_is_created_by_name_but_not_by_arn() {
    let Some(moto) = Moto::start() else {
        return;
    };
    assert_eq!(
        report(moto.child("write new-tokens dave@example.com", None)),
        "1"
    );
    let read = moto.python(
        "import boto3\n\
         c = boto3.client('secretsmanager')\n\
         print(c.get_secret_value(SecretId='new-tokens', VersionStage='AWSCURRENT')['SecretString'])\n",
    );
    assert!(read.contains("dave@example.com"), "{read}");
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf";
    let outcome = report(moto.child(&format!("missing {arn}"), None));
    assert!(outcome.contains("does not exist"), "{outcome}");
}
