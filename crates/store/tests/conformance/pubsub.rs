use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use secrecy::SecretString;
use variosync_domain::UserId;
use variosync_store::{
    Channel, MemoryPubSub, PubSub, RedisConnection, RedisPubSub, Subscription, testing,
};

/// Generous, so that only a lost event, never a busy machine, runs out of it.
const PATIENCE: Duration = Duration::from_secs(30);

async fn next(subscription: &mut Subscription) -> Bytes {
    tokio::time::timeout(PATIENCE, subscription.next())
        .await
        .expect("an event arrives within 30 s")
        .expect("the subscription stays open")
}

/// Starts a replica and waits until it holds its Redis subscription: `start` stops waiting
/// after a few seconds, which a busy machine may need, and an event published before the
/// subscription is in place is lost.
async fn replica(url: &SecretString, prefix: &str) -> RedisPubSub {
    let pubsub = RedisPubSub::start(RedisConnection::open(url, prefix).unwrap()).await;
    tokio::time::timeout(PATIENCE, pubsub.subscribed())
        .await
        .expect("the replica subscribes within 30 s");
    pubsub
}

/// `publisher` and `subscriber` may be the same instance or two replicas.
async fn pubsub_conforms(publisher: &dyn PubSub, subscriber: &dyn PubSub) {
    let jobs = Channel::user(UserId::new(), "jobs");
    let library = Channel::user(UserId::new(), "library");
    let mut first = subscriber.subscribe(&jobs).await.unwrap();
    let mut second = subscriber.subscribe(&jobs).await.unwrap();
    let mut other = subscriber.subscribe(&library).await.unwrap();

    publisher.publish(&jobs, Bytes::from_static(b"progress 10%")).await.unwrap();
    publisher.publish(&jobs, Bytes::from_static(b"progress 20%")).await.unwrap();
    publisher.publish(&library, Bytes::from_static(b"dataset added")).await.unwrap();

    assert_eq!(next(&mut first).await, Bytes::from_static(b"progress 10%"));
    assert_eq!(next(&mut first).await, Bytes::from_static(b"progress 20%"));
    assert_eq!(next(&mut second).await, Bytes::from_static(b"progress 10%"));
    // The other channel's first event is its own: nothing leaked across channels.
    assert_eq!(next(&mut other).await, Bytes::from_static(b"dataset added"));

    publisher
        .publish(&Channel::user(UserId::new(), "jobs"), Bytes::from_static(b"nobody listens"))
        .await
        .expect("publishing to a channel without subscribers is not an error");
}

#[tokio::test]
async fn pubsub_conforms_in_memory() {
    let hub = MemoryPubSub::new();
    pubsub_conforms(&hub, &hub).await;
}

#[tokio::test]
async fn pubsub_conforms_on_redis_between_two_replicas() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let url = settings.url.as_ref().unwrap();
    let one = replica(url, &settings.key_prefix).await;
    let two = replica(url, &settings.key_prefix).await;
    assert!(one.is_subscribed() && two.is_subscribed());
    pubsub_conforms(&one, &two).await;
    pubsub_conforms(&two, &two).await;
}

#[tokio::test]
async fn deployments_with_different_prefixes_do_not_hear_each_other() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let url = settings.url.as_ref().unwrap();
    let ours = replica(url, &settings.key_prefix).await;
    let theirs_prefix = format!("{}-other", settings.key_prefix);
    let theirs = replica(url, &theirs_prefix).await;
    let channel = Channel::parse("broadcast").unwrap();
    let mut listening = ours.subscribe(&channel).await.unwrap();
    theirs.publish(&channel, Bytes::from_static(b"theirs")).await.unwrap();
    ours.publish(&channel, Bytes::from_static(b"ours")).await.unwrap();
    assert_eq!(next(&mut listening).await, Bytes::from_static(b"ours"));
}
