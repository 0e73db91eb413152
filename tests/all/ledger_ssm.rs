//! The SSM ledger's lock against a real moto: a lock is created only if absent, and when a
//! stale one is broken by several runs at once, exactly one of them gets it.

use std::time::Duration;

use crate::support::moto::Moto;
use release_agent::ledger::ssm::SsmStore;
use release_agent::ledger::Holder;

async fn store(moto: &Moto) -> SsmStore {
    SsmStore::new(&moto.sdk_config().await, "/release-agent/test")
}

fn holder(by: &str) -> Holder {
    Holder::me(by, "deploy", Duration::from_secs(600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_of_several_runs_breaking_a_stale_lock_gets_it() {
    let moto = Moto::start();
    let store = std::sync::Arc::new(store(&moto).await);
    for round in 0..5 {
        // A lock whose holder expired: every contender may break it.
        let mut stale = holder("gone");
        stale.host = "elsewhere".into();
        stale.expires = 1_000_000_000;
        store
            .put("staging/lock", &serde_json::to_string(&stale).unwrap())
            .await
            .unwrap();
        let contenders: Vec<_> = (0..4)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .lock("staging", holder(&format!("run{i}")), Duration::ZERO)
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for c in contenders {
            match c.await.unwrap() {
                Ok(lock) => winners.push(lock),
                Err(e) => assert!(e.to_string().contains("staging is locked by run"), "{e}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one run holds the lock"
        );
        for lock in winners {
            lock.release().await;
        }
        assert_eq!(store.get("staging/lock").await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_lock_is_waited_for_then_taken() {
    let moto = Moto::start();
    let store = std::sync::Arc::new(store(&moto).await);
    let first = store
        .lock("staging", holder("alice"), Duration::ZERO)
        .await
        .unwrap();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .lock("staging", holder("bob"), Duration::from_secs(20))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiter.is_finished(), "bob waits while alice holds it");
    first.release().await;
    let second = waiter
        .await
        .unwrap()
        .expect("bob gets it once alice is done");
    let value = store.get("staging/lock").await.unwrap().unwrap();
    assert!(value.contains("\"by\":\"bob\""), "{value}");
    second.release().await;
}

#[tokio::test]
async fn a_versions_digest_is_fixed_by_its_first_record() {
    use release_agent::ledger::{ImageDigest, Ledger};
    let moto = Moto::start();
    let ledger = Ledger::Ssm(store(&moto).await);
    let record = |digest: &str| ImageDigest {
        version: "1.1.0".into(),
        digest: digest.into(),
        image: None,
        by: "ci".into(),
        at: "2026-01-01T00:00:00Z".into(),
    };
    assert_eq!(ledger.digest("1.1.0").await.unwrap(), None);
    let first = ledger.fix_digest(&record("sha256:a")).await.unwrap();
    assert_eq!(first.digest, "sha256:a");
    let second = ledger.fix_digest(&record("sha256:b")).await.unwrap();
    assert_eq!(second.digest, "sha256:a", "the first record stands");
    assert_eq!(
        ledger.digest("1.1.0").await.unwrap().unwrap().digest,
        "sha256:a"
    );
}
