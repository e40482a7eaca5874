//! Pagination: walking `next` from the first page to the last yields every record exactly once, at
//! any page size, and `next` is null on the last page.

use std::collections::HashSet;

use serde_json::Value;
use vendor_api::{Config, DEFAULT_LIMIT};

use crate::support::{config, ids, list_of, Server};

/// Walks `target` at page size `limit` and checks the records against `expected` ids: same ids,
/// same order, none twice, and the number of pages the page size implies.
async fn check_walk(server: &Server, target: &str, limit: usize, expected: &[u64]) {
    let separator = if target.contains('?') { '&' } else { '?' };
    let paged = format!("{target}{separator}limit={limit}");
    let (records, pages) = server.client().walk(&paged).await;
    let got = ids(&records);
    let unique: HashSet<u64> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "{paged}: a record came twice");
    assert_eq!(got, expected, "{paged}");
    assert_eq!(
        pages,
        expected.len().div_ceil(limit).max(1),
        "{paged}: pages"
    );
}

#[tokio::test]
async fn walking_every_list_yields_each_record_once() {
    let server = Server::start(Config {
        branches: 30,
        salespersons: 20,
        sales: 57,
        ..config()
    })
    .await;
    let data = &server.dataset;
    let branch_ids: Vec<u64> = data.branches().map(|b| b.id).collect();
    let employee_ids: Vec<u64> = data.employees(7).map(|e| e.id).collect();
    let seller = data.salespersons(7).nth(3).expect("a salesperson").id;
    let sale_ids: Vec<u64> = data.sales(seller).map(|s| s.id).collect();
    for limit in [1, 7, 23, 30, 57, 1000] {
        check_walk(&server, "/branches/", limit, &branch_ids).await;
        check_walk(&server, "/employees?branchID=7", limit, &employee_ids).await;
        check_walk(
            &server,
            &format!("/sales/?salespersonsID={seller}"),
            limit,
            &sale_ids,
        )
        .await;
    }
    check_walk(
        &server,
        "/branches/?branch=Utica&branch=Albany&branch=Erie&branch=Scranton",
        3,
        &[1, 6, 8, 15],
    )
    .await;
}

#[tokio::test]
async fn pages_default_to_the_default_limit() {
    let server = Server::start(Config {
        sales: 250,
        ..config()
    })
    .await;
    let seller = server
        .dataset
        .salespersons(1)
        .next()
        .expect("a salesperson")
        .id;
    let mut client = server.client();
    let mut sizes = Vec::new();
    let mut nexts = Vec::new();
    let mut target = format!("/sales/?salespersonsID={seller}");
    loop {
        let page = client.get(&target).await.json();
        sizes.push(list_of(&page).len());
        nexts.push(page["next"].clone());
        match page["next"].as_str() {
            Some(cursor) => target = format!("/sales/?salespersonsID={seller}&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(sizes, [DEFAULT_LIMIT, DEFAULT_LIMIT, 50]);
    assert_eq!(nexts, [Value::from("100"), Value::from("200"), Value::Null]);
}

#[tokio::test]
async fn a_cursor_past_the_end_gives_an_empty_last_page() {
    let server = Server::start(config()).await;
    let page = server.client().get("/branches/?cursor=500").await.json();
    assert!(list_of(&page).is_empty());
    assert_eq!(page["next"], Value::Null);
}
