//! The paths and shapes of `source-api.md`: every list path, with and without a trailing slash,
//! records equal to the library's field for field, and the error answers.

use expect_test::expect;
use hyper::{Method, StatusCode};
use serde_json::Value;
use vendor_api::{branch_json, employee_json, sale_json, Config, Occupation, BRANCH_ORIGINALS};

use crate::support::{config, ids, parsed, Server};

#[tokio::test]
async fn the_original_thirteen_branches_come_first_in_order() {
    let server = Server::start(Config {
        branches: 40,
        ..config()
    })
    .await;
    let (branches, _) = server.client().walk("/branches/").await;
    let names: Vec<&str> = branches
        .iter()
        .map(|branch| branch["branch_name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names.len(), 40);
    assert_eq!(names[..13], BRANCH_ORIGINALS);
    assert_eq!(ids(&branches), (1..=40).collect::<Vec<u64>>());
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 40, "branch names are unique");
}

#[tokio::test]
async fn records_equal_the_library_field_for_field() {
    let server = Server::start(config()).await;
    let data = &server.dataset;
    let mut client = server.client();
    let (branches, _) = client.walk("/branches/").await;
    let expected: Vec<Value> = data.branches().map(|b| parsed(branch_json(&b))).collect();
    assert_eq!(branches, expected);
    for branch in data.branches() {
        let (employees, _) = client
            .walk(&format!("/employees?branchID={}", branch.id))
            .await;
        let expected: Vec<Value> = data
            .employees(branch.id)
            .map(|e| parsed(employee_json(&e)))
            .collect();
        assert_eq!(employees, expected);
        let occupations: Vec<&str> = employees
            .iter()
            .map(|e| e["occupation"].as_str().expect("an occupation"))
            .collect();
        assert!(occupations.contains(&"manager"), "{occupations:?}");
        assert_eq!(
            occupations.iter().filter(|&&o| o == "salesperson").count(),
            4
        );
        for seller in data.salespersons(branch.id) {
            let (sales, _) = client
                .walk(&format!("/sales/?salespersonsID={}", seller.id))
                .await;
            let expected: Vec<Value> = data
                .sales(seller.id)
                .map(|s| parsed(sale_json(&s)))
                .collect();
            assert_eq!(sales.len(), 12);
            assert_eq!(sales, expected);
        }
    }
}

#[tokio::test]
async fn shapes_follow_the_source_api() {
    let server = Server::start(config()).await;
    let mut client = server.client();
    let seller = server
        .dataset
        .employees(1)
        .find(|e| e.occupation == Occupation::Salesperson)
        .expect("a salesperson");
    let mut shapes = String::new();
    for target in [
        "/branches/?limit=1".to_string(),
        "/employees?branchID=1&limit=1".to_string(),
        format!("/sales/?salespersonsID={}&limit=1", seller.id),
    ] {
        let reply = client.get(&target).await;
        shapes.push_str(&format!("{target}\n{}\n{}\n", reply.status, reply.text()));
    }
    expect![[r#"
        /branches/?limit=1
        200 OK
        {"result":[{"id":1,"branch_name":"Scranton","city":"Scranton","state":"PA","address":"1725 Slough Avenue","phone":"(570) 555-2760"}],"next":"1"}
        /employees?branchID=1&limit=1
        200 OK
        {"result":{"employees":[{"id":100001,"branch_id":1,"first_name":"Stanley","last_name":"Halpert","occupation":"manager","email":"stanley.halpert.100001@dundermifflin.com","hired_on":"2008-03-17"}]},"next":"1"}
        /sales/?salespersonsID=100002&limit=1
        200 OK
        {"result":{"sales":[{"id":10000200001,"salesperson_id":100002,"branch_id":1,"customer":"Cugini's Restaurant","product":"Sticky Notes 3x3 (24 pads)","quantity":28,"unit_price":"19.60","total":"548.80","transaction_timestamp":"2023-11-14 10:29:34"}]},"next":"1"}
    "#]]
    .assert_eq(&shapes);
}

#[tokio::test]
async fn paths_answer_with_and_without_a_trailing_slash() {
    let server = Server::start(config()).await;
    let mut client = server.client();
    for (with, without) in [
        ("/branches/", "/branches"),
        ("/branches/?branch=Akron", "/branches?branch=Akron"),
        ("/employees/?branchID=2", "/employees?branchID=2"),
        (
            "/sales/?salespersonsID=200002",
            "/sales?salespersonsID=200002",
        ),
        ("/health/", "/health"),
    ] {
        let a = client.get(with).await;
        let b = client.get(without).await;
        assert_eq!(a.status, StatusCode::OK, "{with}: {}", a.text());
        assert_eq!(a.body, b.body, "{with} and {without}");
        assert_eq!(
            a.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
    }
}

#[tokio::test]
async fn named_branches_are_served_by_id_once_each() {
    let server = Server::start(Config {
        branches: 40,
        ..config()
    })
    .await;
    let mut client = server.client();
    let check = |target: &'static str, expected: &'static [u64]| (target, expected);
    for (target, expected) in [
        check("/branches/?branch=Scranton", &[1]),
        check("/branches/?branch=New%20York&branch=Scranton", &[1, 13]),
        check("/branches/?branch=New+York&branch=New+York", &[13]),
        check("/branches/?branch=Allentown&branch=Allentown+2", &[14, 39]),
        check("/branches/?branch=Gotham", &[]),
        check("/branches/?branch=Allentown+3", &[]),
    ] {
        let (records, pages) = client.walk(target).await;
        assert_eq!(ids(&records), expected, "{target}");
        assert_eq!(pages, 1, "{target}");
    }
}

#[tokio::test]
async fn errors_name_what_is_wrong() {
    let server = Server::start(config()).await;
    let mut client = server.client();
    let mut answers = String::new();
    for (method, target) in [
        (Method::GET, "/employees"),
        (Method::GET, "/employees?branchID=abc"),
        (Method::GET, "/employees?branchID=99"),
        (Method::GET, "/sales/?salespersonsID=100099"),
        (Method::GET, "/sales/?salespersonsID=5"),
        (Method::GET, "/sales/"),
        (Method::GET, "/branches/?limit=0"),
        (Method::GET, "/branches/?limit=1001"),
        (Method::GET, "/branches/?cursor=x"),
        (Method::GET, "/customers"),
        (Method::POST, "/branches/"),
    ] {
        let reply = client.request(method.clone(), target).await;
        answers.push_str(&format!(
            "{method} {target} -> {} {}\n",
            reply.status.as_u16(),
            reply.text()
        ));
    }
    expect![[r#"
        GET /employees -> 400 {"error":"`branchID` is required"}
        GET /employees?branchID=abc -> 400 {"error":"`branchID` must be an integer id, got `abc`"}
        GET /employees?branchID=99 -> 404 {"error":"no branch with id 99"}
        GET /sales/?salespersonsID=100099 -> 404 {"error":"no employee with id 100099"}
        GET /sales/?salespersonsID=5 -> 404 {"error":"no employee with id 5"}
        GET /sales/ -> 400 {"error":"`salespersonsID` is required"}
        GET /branches/?limit=0 -> 400 {"error":"`limit` must be an integer from 1 to 1000, got `0`"}
        GET /branches/?limit=1001 -> 400 {"error":"`limit` must be an integer from 1 to 1000, got `1001`"}
        GET /branches/?cursor=x -> 400 {"error":"`cursor` must be a value of `next` from an earlier page, got `x`"}
        GET /customers -> 404 {"error":"no such path"}
        POST /branches/ -> 405 {"error":"only GET is served"}
    "#]]
    .assert_eq(&answers);
}

#[tokio::test]
async fn employees_who_do_not_sell_have_no_sales() {
    let server = Server::start(config()).await;
    let mut client = server.client();
    let manager = server
        .dataset
        .employees(2)
        .find(|e| e.occupation == Occupation::Manager)
        .expect("a manager");
    let (sales, pages) = client
        .walk(&format!("/sales/?salespersonsID={}", manager.id))
        .await;
    assert!(sales.is_empty());
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn health_answers_ok() {
    let server = Server::start(config()).await;
    let reply = server.client().get("/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
}
