//! A request field longer than the wire can carry (a `str` over 65,535
//! bytes) is refused by the client with `Error::Unencodable` — nothing is
//! sent, nothing is silently cut — and the connection stays usable.

mod support;

use spate_client::proto::Frame;
use spate_client::{Client, ClientOptions, Error, Publication};
use support::FakeServer;

#[tokio::test]
async fn an_over_long_topic_is_refused_before_sending() {
    let server = FakeServer::start().await;
    let (client, mut peer) = tokio::join!(
        async {
            Client::connect(&server.addr, ClientOptions::default().reconnect(None))
                .await
                .unwrap()
        },
        server.accept()
    );
    let topic = "t".repeat(70_000);
    match client.publish_acked(Publication::new(topic, "x")).await {
        Err(Error::Unencodable(e)) => assert!(e.to_string().contains("topic"), "{e}"),
        other => panic!("expected Unencodable, got {other:?}"),
    }
    // The next request is the first thing on the wire.
    let acked = tokio::spawn({
        let c = client.clone();
        async move { c.publish_acked(Publication::new("ok", "y")).await }
    });
    let request_id = match peer.recv().await {
        Frame::Publish(p) => {
            assert_eq!(&*p.topic, "ok");
            p.request_id
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    };
    peer.send(Frame::PubAck {
        request_id,
        epoch: 1,
        seq: 1,
        timestamp_us: 1,
        receivers: 0,
    })
    .await;
    assert_eq!(acked.await.unwrap().unwrap().seq, 1);
}
