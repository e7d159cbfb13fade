//! `forgelink::client::Client` against a running server, as an integrator uses it: commands
//! with the admin token, reads with the viewer token, the live event stream, the export and
//! the comparison of the dashboard; a refusal carries the server's words, never the token.

mod http_support;

use forgelink::client::{AccountsFilter, Client, ClientError};
use forgelink_events::Provider;
use http_support::{Http, VIEWER};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_of_the_stream_sees_each_command_it_sent_commit() {
    let h = Http::start().await;
    let admin = Client::new(&h.demo.base_url, h.admin().to_string()).unwrap();
    let viewer = Client::new(&h.demo.base_url, VIEWER.to_string()).unwrap();
    let mut stream = viewer.follow(None).await.unwrap();
    let reply = admin
        .execute(&json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "streamed"}))
        .await
        .unwrap();
    assert_eq!(reply["events"], json!(["AccountNamed"]));
    let got = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the event arrives")
        .expect("the stream is open")
        .unwrap();
    assert_eq!(got.envelope["type"], "AccountNamed", "{}", got.envelope);
    assert_eq!(got.position, h.head());

    // Reading from a position gives the same envelope again.
    let mut again = viewer.follow(Some(got.position)).await.unwrap();
    let same = again.next().await.unwrap().unwrap();
    assert_eq!(same.envelope, got.envelope);

    let rows = viewer
        .accounts(AccountsFilter {
            provider: Some(Provider::GitLab),
            status: None,
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(&*rows[0].name, "streamed");
    let history = viewer.history("streamed", None).await.unwrap().unwrap();
    assert_eq!(history.history.len(), 1);
    assert!(viewer.account("nobody").await.unwrap().is_none());
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_every_event_and_the_live_dashboard_matches_a_rebuild() {
    let h = Http::start().await;
    h.link_github("acme-gh").await;
    let admin = Client::new(&h.demo.base_url, h.admin().to_string()).unwrap();
    let mut exported = Vec::new();
    let n = admin.export(&mut exported).await.unwrap();
    let head = h.head();
    assert!(n >= 4 && n <= head, "{n} of {head}");
    let mut local = Vec::new();
    h.demo.server.engine().log().export(&mut local).unwrap();
    assert!(local.starts_with(&exported), "byte for byte what the log exports");
    let verified = admin.verify().await.unwrap();
    assert_eq!(verified["differences"], json!([]), "{verified}");
    assert!(verified["position"].as_u64().unwrap() >= n);
    h.demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_says_what_the_server_answered_and_never_shows_the_token() {
    let h = Http::start().await;
    let viewer = Client::new(&h.demo.base_url, VIEWER.to_string()).unwrap();
    let err = viewer
        .execute(&json!({"type": "NameAccount", "provider": "gitlab", "unique_name": "x"}))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ClientError::Refused { status, .. } if status == 403),
        "{text}"
    );
    assert!(
        text.contains("viewer token can only read") && text.contains("POST /v1/commands"),
        "{text}"
    );
    assert!(!text.contains(VIEWER) && !format!("{viewer:?}").contains(VIEWER));

    let admin = Client::new(&h.demo.base_url, h.admin().to_string()).unwrap();
    let err = admin
        .execute(&json!({"type": "NameAccount", "provider": "gitlub", "unique_name": "x"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("400") && err.contains("provider"), "{err}");
    assert!(matches!(
        Client::new("not a url", "t".to_string()),
        Err(ClientError::BadBaseUrl(_))
    ));
    h.demo.shutdown().await;
}
