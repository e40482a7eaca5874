//! Determinism: the same seed serves the same bytes from two servers; another seed serves other
//! data; a revision changes exactly its documented subset of records.

use std::collections::BTreeMap;

use serde_json::Value;
use vendor_api::{revision_touches, Config};

use crate::support::{config, Client, Server};

/// Every page a collector would read, concatenated.
async fn everything(server: &Server) -> Vec<u8> {
    let mut client = server.client();
    let mut bytes = Vec::new();
    let targets = ["/branches/?limit=4".to_string()]
        .into_iter()
        .chain((1..=4).map(|b| format!("/employees?branchID={b}&limit=5")))
        .chain((1..=4).flat_map(|b| {
            let sellers: Vec<u64> = server.dataset.salespersons(b).map(|e| e.id).collect();
            sellers
                .into_iter()
                .map(|id| format!("/sales/?salespersonsID={id}&limit=5"))
        }));
    for target in targets {
        let mut url = target.clone();
        loop {
            let reply = client.get(&url).await;
            bytes.extend_from_slice(&reply.body);
            match reply.json()["next"].as_str() {
                Some(cursor) => url = format!("{target}&cursor={cursor}"),
                None => break,
            }
        }
    }
    bytes
}

#[tokio::test]
async fn two_servers_with_the_same_seed_serve_the_same_bytes() {
    let seeded = |seed| Config { seed, ..config() };
    let first = Server::start(seeded(42)).await;
    let second = Server::start(seeded(42)).await;
    let other = Server::start(seeded(43)).await;
    let a = everything(&first).await;
    assert!(a.len() > 10_000, "a real sample: {} bytes", a.len());
    assert_eq!(a, everything(&second).await);
    assert_ne!(a, everything(&other).await);
}

/// Every record of every list, by id.
async fn all_records(client: &mut Client, server: &Server) -> BTreeMap<u64, Value> {
    let mut records = BTreeMap::new();
    let mut add = |list: Vec<Value>| {
        for record in list {
            let id = record["id"].as_u64().expect("an id");
            assert!(records.insert(id, record).is_none(), "id {id} twice");
        }
    };
    add(client.walk("/branches/").await.0);
    for branch in server.dataset.branches() {
        add(client
            .walk(&format!("/employees?branchID={}", branch.id))
            .await
            .0);
        for seller in server.dataset.salespersons(branch.id) {
            add(client
                .walk(&format!("/sales/?salespersonsID={}", seller.id))
                .await
                .0);
        }
    }
    records
}

#[tokio::test]
async fn a_revision_changes_exactly_its_documented_records() {
    let revised = |revision| Config {
        revision,
        branches: 25,
        ..config()
    };
    let base = Server::start(revised(0)).await;
    let next = Server::start(revised(3)).await;
    let before = all_records(&mut base.client(), &base).await;
    let after = all_records(&mut next.client(), &next).await;
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "a revision keeps every id"
    );
    let changed: Vec<u64> = before
        .keys()
        .copied()
        .filter(|id| before[id] != after[id])
        .collect();
    let documented: Vec<u64> = before
        .keys()
        .copied()
        .filter(|&id| revision_touches(id, 3) != revision_touches(id, 0))
        .collect();
    assert_eq!(changed, documented);
    // Revisions 1 to 3 touch the records of classes 1, 2 and 3: about 15% of every kind.
    let share = changed.len() as f64 / before.len() as f64;
    assert!((0.10..0.20).contains(&share), "{share}");
    for kind in [
        1..100_000,
        100_000..10_000_000_000,
        10_000_000_000..u64::MAX,
    ] {
        assert!(changed.iter().any(|id| kind.contains(id)), "{kind:?}");
    }
}
