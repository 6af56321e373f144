//! The shared store on Redis, for a fleet of instances.
//!
//! Client: the `redis` crate, with its tokio [`ConnectionManager`] (one
//! multiplexed connection that reconnects by itself) for commands, and one
//! dedicated pub/sub connection for the revocation feed: two connections per
//! instance, whatever the load.
//!
//! Every change of more than one step is one Lua script, so it is atomic; a take
//! is `GETDEL`. Each key carries the expiry of what it holds (`EXAT`, or the
//! latest member's expiry for sorted sets).
//!
//! Revocations live in the sorted set `<prefix>_revoked` (id → until) and each is
//! published on `<prefix>_revocations` by the script that records it. The
//! [`follow`](Store::follow) loop subscribes, then reads the whole set into this
//! instance's view and writes back what the view holds and Redis lacks (a Redis
//! that restarted empty forgets no logout while any instance runs). While
//! subscribed it pings on the subscription every `max_staleness / 5`: a `PONG`
//! arrives after every message published before the `PING`, so once the queue is
//! drained the view is proven current up to the moment the ping was sent. Without
//! such proof for `max_staleness` the view turns stale and the gate answers 503.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{FutureExt, StreamExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubStream};
use redis::{AsyncCommands, RedisError};

use super::redis_scripts::Scripts;

use super::{unix_now, Revocations, Store, StoreError};
use crate::config::RedisConfig;

/// The longest one command may take before the store counts as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a connection (TCP, TLS, `AUTH`, `SELECT`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pauses between attempts to follow the feed again.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// Revocations written back per script call.
const WRITEBACK_CHUNK: usize = 256;

pub struct RedisStore {
    client: redis::Client,
    /// Made by the follow loop, in the long-lived runtime it runs on.
    conn: OnceLock<ConnectionManager>,
    prefix: String,
    revoked_key: String,
    channel: String,
    shown_url: String,
    max_staleness: Duration,
    revocations: Revocations,
    /// What went wrong last, for `/auth/ready`; `None` once all is well.
    problem: Mutex<Option<String>>,
    scripts: Scripts,
}

impl RedisStore {
    /// Builds the store from its config without touching the network; the follow
    /// loop connects (and reconnects) in the background.
    pub fn new(config: &RedisConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(config.url.expose_secret()).map_err(|e| {
            StoreError(format!(
                "`store.url` cannot be used by the Redis client ({:?}); write redis://[user:password@]host:port[/db]",
                e.kind()
            ))
        })?;
        let p = &config.key_prefix;
        Ok(Self {
            client,
            conn: OnceLock::new(),
            prefix: p.clone(),
            revoked_key: format!("{p}_revoked"),
            channel: format!("{p}_revocations"),
            shown_url: config.shown_url.clone(),
            max_staleness: config.max_staleness,
            revocations: Revocations::followed(config.max_staleness),
            problem: Mutex::new(Some("connecting to Redis".into())),
            scripts: Scripts::new(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn conn(&self) -> Result<ConnectionManager, StoreError> {
        self.conn.get().cloned().ok_or_else(|| {
            StoreError(
                self.problem()
                    .unwrap_or_else(|| "connecting to Redis".into()),
            )
        })
    }

    /// What is wrong right now, if anything.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }

    fn set_problem(&self, problem: Option<String>) {
        let Ok(mut current) = self.problem.lock() else {
            return;
        };
        if *current != problem {
            match &problem {
                Some(p) => {
                    tracing::error!(url = %self.shown_url, problem = %p, "the Redis store is unavailable; sessions are refused (503) once this instance has not heard from it for store.max_staleness; retrying")
                }
                None => tracing::info!(url = %self.shown_url, "the Redis store is reachable again"),
            }
            *current = problem;
        }
    }

    /// Runs one command with the command deadline.
    async fn run<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError(describe(&e))),
            Err(_) => Err(StoreError(format!(
                "Redis did not answer within {}s",
                COMMAND_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The command connection, made on first call.
    async fn connect(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(c) = self.conn.get() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(RETRY_MAX);
        let made = tokio::time::timeout(
            CONNECT_TIMEOUT * 3,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| StoreError("Redis did not answer the connection in time".into()))?
        .map_err(|e| StoreError(describe(&e)))?;
        Ok(self.conn.get_or_init(|| made).clone())
    }

    /// One pass of the follow loop: subscribe, resync, then hear the feed until
    /// the connection fails.
    async fn follow_once(&self) -> Result<(), StoreError> {
        // The subscription first: its connection's errors (a wrong password, an
        // untrusted certificate) come straight back, where the command connection
        // would retry.
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| StoreError("Redis did not answer the subscription in time".into()))?
            .map_err(|e| StoreError(describe(&e)))?;
        let mut conn = self.connect().await?;
        let (mut sink, mut stream) = pubsub.split();
        self.run(sink.subscribe(&self.channel)).await?;
        // From here on every revocation reaches `stream`; read the ones before.
        let resync_from = Instant::now();
        let now = unix_now();
        let remote: Vec<(String, f64)> = self
            .run(conn.zrangebyscore_withscores(&self.revoked_key, format!("({now}"), "+inf"))
            .await?;
        let held_remotely: std::collections::HashMap<&str, i64> = remote
            .iter()
            .map(|(id, until)| (id.as_str(), *until as i64))
            .collect();
        let missing: Vec<(String, i64)> = self
            .revocations
            .snapshot(now)
            .into_iter()
            .filter(|(id, until)| held_remotely.get(id.as_str()).is_none_or(|u| u < until))
            .collect();
        for chunk in missing.chunks(WRITEBACK_CHUNK) {
            self.record(&mut conn, chunk, now).await?;
        }
        let fetched = remote.len();
        self.revocations.insert(
            remote.into_iter().map(|(id, until)| (id, until as i64)),
            now,
        );
        self.drain(&mut stream);
        self.revocations.heard(resync_from);
        self.set_problem(None);
        tracing::info!(
            from_redis = fetched,
            written_back = missing.len(),
            "following the Redis revocation feed"
        );
        let mut tick =
            tokio::time::interval((self.max_staleness / 5).max(Duration::from_millis(100)));
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => self.apply(&msg),
                    None => return Err(StoreError("the Redis subscription closed".into())),
                },
                _ = tick.tick() => {
                    let sent = Instant::now();
                    self.run(sink.ping::<redis::Value>()).await?;
                    self.drain(&mut stream);
                    self.revocations.heard(sent);
                }
            }
        }
    }

    /// Applies every message already received.
    fn drain(&self, stream: &mut PubSubStream) {
        while let Some(Some(msg)) = stream.next().now_or_never() {
            self.apply(&msg);
        }
    }

    /// Applies one feed message: `r <until> <id>`.
    fn apply(&self, msg: &redis::Msg) {
        let Ok(text) = msg.get_payload::<String>() else {
            return;
        };
        let mut parts = text.splitn(3, ' ');
        if let (Some("r"), Some(until), Some(id)) = (parts.next(), parts.next(), parts.next()) {
            if let Ok(until) = until.parse::<i64>() {
                self.revocations
                    .insert([(id.to_string(), until)], unix_now());
            }
        }
    }

    /// Records revocations in Redis and publishes them, in one script call.
    async fn record(
        &self,
        conn: &mut ConnectionManager,
        entries: &[(String, i64)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut call = self.scripts.revoke.key(&self.revoked_key);
        call.arg(now).arg(&self.channel);
        for (id, until) in entries {
            call.arg(*until).arg(id);
        }
        self.run(call.invoke_async::<i64>(conn)).await.map(drop)
    }
}

/// An operator's reading of a Redis error. Never holds the URL or password.
fn describe(e: &RedisError) -> String {
    use redis::ErrorKind;
    match e.kind() {
        ErrorKind::AuthenticationFailed => "Redis refused the user name or password in `store.url` (WRONGPASS); fix them there".into(),
        _ if e.code() == Some("WRONGPASS") => "Redis refused the user name or password in `store.url` (WRONGPASS); fix them there".into(),
        _ if e.code() == Some("NOAUTH") => "Redis asks for a password and `store.url` has none; write redis://user:password@host:port".into(),
        _ if e.code() == Some("NOPERM") => "the Redis user in `store.url` lacks a permission portcullis needs (NOPERM); allow it the commands, keys and channels under `store.key_prefix` (see docs/store.md)".into(),
        _ if e.is_timeout() => "Redis did not answer in time".into(),
        _ if e.is_connection_refusal() => "Redis refused the connection: is it running at the host and port of `store.url`?".into(),
        // An I/O error's text is the OS's or the TLS library's (`invalid peer
        // certificate: UnknownIssuer`); it never holds the URL.
        _ if e.is_io_error() => format!("cannot talk to Redis: {e}; check the host and port of `store.url`, and for rediss:// that its certificate is trusted (SSL_CERT_FILE)"),
        kind => format!("Redis answered with an error ({kind:?}{})", e.code().map(|c| format!(", {c}")).unwrap_or_default()),
    }
}

#[async_trait]
impl Store for RedisStore {
    fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    async fn revoke(&self, id: &str, until: i64) -> Result<(), StoreError> {
        let now = unix_now();
        // In force here at once, and written back after an outage if Redis misses it.
        self.revocations.insert([(id.to_string(), until)], now);
        let mut conn = self.conn()?;
        self.record(&mut conn, &[(id.to_string(), until)], now)
            .await
    }

    async fn follow(&self, mut shutdown: pingora::server::ShutdownWatch) {
        let mut pause = RETRY_MIN;
        loop {
            let started = Instant::now();
            tokio::select! {
                result = self.follow_once() => {
                    if let Err(e) = result {
                        self.set_problem(Some(e.0));
                    }
                }
                _ = shutdown.changed() => return,
            }
            pause = if started.elapsed() > RETRY_MAX * 5 {
                RETRY_MIN
            } else {
                (pause * 2).min(RETRY_MAX)
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        self.run(redis::cmd("PING").query_async::<String>(&mut conn))
            .await?;
        if !self.revocations.is_fresh() {
            return Err(StoreError(self.problem().unwrap_or_else(|| {
                "this instance has not heard the Redis revocation feed within store.max_staleness".into()
            })));
        }
        Ok(())
    }

    async fn put(&self, key: &str, value: &[u8], until: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let cmd = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("EXAT")
            .arg(until)
            .to_owned();
        self.run(cmd.query_async::<()>(&mut conn)).await
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], until: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let cmd = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("EXAT")
            .arg(until)
            .to_owned();
        let set: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        Ok(set.is_some())
    }

    async fn put_in_group(
        &self,
        group: &str,
        max: usize,
        key: &str,
        value: &[u8],
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let mut call = self.scripts.put_in_group.key(self.key(group));
        call.key(self.key(key))
            .arg(unix_now())
            .arg(max)
            .arg(until)
            .arg(value)
            .arg(&self.prefix)
            .arg(key);
        let placed: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(placed == 1)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn()?;
        self.run(conn.get(self.key(key))).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn()?;
        self.run(conn.get_del(self.key(key))).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        self.run(conn.del::<_, ()>(self.key(key))).await
    }

    async fn count(&self, key: &str, until: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let mut call = self.scripts.count.key(self.key(key));
        call.arg(until);
        self.run(call.invoke_async(&mut conn)).await
    }

    async fn add_member(&self, set: &str, member: &str, until: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let mut call = self.scripts.add_member.key(self.key(set));
        call.arg(until).arg(member).arg(unix_now());
        self.run(call.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    async fn members(&self, set: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let now = unix_now();
        self.run(conn.zrangebyscore(self.key(set), format!("({now}"), "+inf"))
            .await
    }

    async fn remove_member(&self, set: &str, member: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        self.run(conn.zrem::<_, _, ()>(self.key(set), member)).await
    }
}
