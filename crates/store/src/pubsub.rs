//! Publish/subscribe for live updates (job progress, library changes): tokio broadcast
//! channels in-process by default; through Redis when several replicas must see each other's
//! events.
//!
//! Delivery is at most once: a subscriber that falls too far behind skips the oldest events
//! (and a warning is logged), and events published while nobody listens are dropped. Live
//! views reload their state when they (re)connect, so nothing depends on a missed event.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use redis::AsyncCommands;
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use variosync_domain::{UserId, WorkspaceId};

use crate::error::Result;
use crate::redis_conn::RedisConnection;

/// Events buffered per channel for a slow subscriber before it starts skipping.
const CHANNEL_CAPACITY: usize = 256;
const MAX_CHANNEL_LEN: usize = 200;

/// The name of a channel, built by the server (never from user text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Channel(String);

impl Channel {
    /// The channel of one topic of one user, e.g. `user.{id}.jobs`.
    pub fn user(user: UserId, topic: &'static str) -> Self {
        Self(format!("user.{user}.{topic}"))
    }

    /// The channel of one topic of one workspace, e.g. `workspace.{id}.datasets`: what its
    /// members' open pages listen on.
    pub fn workspace(workspace: WorkspaceId, topic: &'static str) -> Self {
        Self(format!("workspace.{workspace}.{topic}"))
    }

    /// A channel from a name made of `a-z`, `0-9`, `.`, `_`, `-` and `:`.
    pub fn parse(name: &str) -> Option<Self> {
        let valid = !name.is_empty()
            && name.len() <= MAX_CHANNEL_LEN
            && name.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'-' | b':')
            });
        valid.then(|| Self(name.to_owned()))
    }

    /// The channel's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stream of the payloads published on one channel after subscribing.
pub struct Subscription {
    inner: BoxStream<'static, Bytes>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Stream for Subscription {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Fan-out of events to every subscriber of a channel, across replicas where configured.
#[async_trait]
pub trait PubSub: Send + Sync + fmt::Debug {
    /// Sends `payload` to every current subscriber of `channel`.
    async fn publish(&self, channel: &Channel, payload: Bytes) -> Result<()>;
    /// Receives what is published on `channel` from now on.
    async fn subscribe(&self, channel: &Channel) -> Result<Subscription>;
}

/// In-process fan-out through tokio broadcast channels.
#[derive(Clone, Default)]
pub struct MemoryPubSub {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Bytes>>>>,
}

impl fmt::Debug for MemoryPubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPubSub").finish_non_exhaustive()
    }
}

impl MemoryPubSub {
    /// A hub with no channels.
    pub fn new() -> Self {
        Self::default()
    }

    fn send(&self, channel: &str, payload: Bytes) {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // When every subscriber has gone, forget the channel so idle names do not pile up.
        if let Some(sender) = channels.get(channel)
            && sender.send(payload).is_err()
        {
            channels.remove(channel);
        }
    }

    fn receiver(&self, channel: &str) -> broadcast::Receiver<Bytes> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    fn subscription(&self, channel: &Channel) -> Subscription {
        let name = channel.as_str().to_owned();
        let stream = BroadcastStream::new(self.receiver(&name)).filter_map(move |item| {
            let item = match item {
                Ok(payload) => Some(payload),
                Err(BroadcastStreamRecvError::Lagged(skipped)) => {
                    tracing::warn!(channel = %name, skipped, "a slow subscriber skipped events");
                    None
                }
            };
            async move { item }
        });
        Subscription { inner: stream.boxed() }
    }
}

#[async_trait]
impl PubSub for MemoryPubSub {
    async fn publish(&self, channel: &Channel, payload: Bytes) -> Result<()> {
        self.send(channel.as_str(), payload);
        Ok(())
    }

    async fn subscribe(&self, channel: &Channel) -> Result<Subscription> {
        Ok(self.subscription(channel))
    }
}

/// Fan-out across replicas through Redis channels.
///
/// Each process keeps one Redis subscription, to the pattern of all this deployment's
/// channels, and hands events to local subscribers through an in-process hub; a browser
/// connection therefore never costs a Redis connection. The subscription reconnects with
/// back-off after Redis restarts.
#[derive(Clone)]
pub struct RedisPubSub {
    conn: RedisConnection,
    hub: MemoryPubSub,
    listener: Arc<Listener>,
}

/// Owns the background task; dropping the last handle stops it.
struct Listener {
    task: tokio::task::JoinHandle<()>,
    subscribed: watch::Receiver<bool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for RedisPubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPubSub").field("conn", &self.conn).finish_non_exhaustive()
    }
}

/// How long [`RedisPubSub::start`] waits for the first subscription before going on (Redis
/// may be down; the listener keeps trying in the background).
const FIRST_SUBSCRIBE_WAIT: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl RedisPubSub {
    /// Starts the listener and waits briefly for its first subscription, so that events
    /// published right after start-up reach this process.
    pub async fn start(conn: RedisConnection) -> Self {
        let hub = MemoryPubSub::new();
        let (subscribed_tx, subscribed) = watch::channel(false);
        let task = tokio::spawn(listen(conn.clone(), hub.clone(), subscribed_tx));
        let mut ready = subscribed.clone();
        let _ = tokio::time::timeout(FIRST_SUBSCRIBE_WAIT, ready.wait_for(|on| *on)).await;
        Self { conn, hub, listener: Arc::new(Listener { task, subscribed }) }
    }

    /// Whether the listener currently holds its Redis subscription.
    pub fn is_subscribed(&self) -> bool {
        *self.listener.subscribed.borrow()
    }

    /// Waits until the listener holds its Redis subscription: [`RedisPubSub::start`] gives up
    /// waiting after a while, but a caller that must hear events published from now on (a
    /// test, say) can wait for as long as it chooses.
    pub async fn subscribed(&self) {
        let mut subscribed = self.listener.subscribed.clone();
        // An error means the listener task is gone, and with it any hope of subscribing.
        let _ = subscribed.wait_for(|on| *on).await;
    }
}

fn pattern_prefix(conn: &RedisConnection) -> String {
    conn.key("ps", "")
}

async fn listen(conn: RedisConnection, hub: MemoryPubSub, subscribed: watch::Sender<bool>) {
    let prefix = pattern_prefix(&conn);
    let mut backoff = Duration::from_millis(100);
    loop {
        match conn.client().get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.psubscribe(format!("{prefix}*")).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    subscribed.send_replace(true);
                    tracing::debug!("subscribed to redis pub/sub");
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        if let Some(channel) = message.get_channel_name().strip_prefix(&prefix) {
                            hub.send(channel, Bytes::copy_from_slice(message.get_payload_bytes()));
                        }
                    }
                    subscribed.send_replace(false);
                    tracing::warn!("lost the redis pub/sub connection; reconnecting");
                }
                Err(error) => tracing::warn!(%error, "redis PSUBSCRIBE failed"),
            },
            Err(error) => tracing::debug!(%error, "cannot connect to redis for pub/sub"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[async_trait]
impl PubSub for RedisPubSub {
    async fn publish(&self, channel: &Channel, payload: Bytes) -> Result<()> {
        let name = format!("{}{}", pattern_prefix(&self.conn), channel.as_str());
        let _: i64 = self.conn.manager().publish(name, payload.as_ref()).await?;
        Ok(())
    }

    async fn subscribe(&self, channel: &Channel) -> Result<Subscription> {
        Ok(self.hub.subscription(channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_limited_to_a_safe_alphabet() {
        assert!(Channel::parse("user.0193.jobs").is_some());
        assert!(Channel::parse("").is_none());
        assert!(Channel::parse("jobs*").is_none());
        assert!(Channel::parse("Jobs").is_none());
        assert!(Channel::parse(&"a".repeat(201)).is_none());
    }
}
