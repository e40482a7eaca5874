//! The tables' contents the vendor's dataset must become, computed from the dataset alone, the
//! scan that reads a table back, and the check that compares them field for field. Shared by the collector's
//! tests and the end-to-end tests of `cascade up` (which include this file by path).

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use aws_sdk_dynamodb::types::AttributeValue;
use vendor_api::Dataset;

/// Item maps as the tables must hold them, computed from the vendor's dataset alone.
pub struct Expected {
    pub branches: Vec<BTreeMap<String, AttributeValue>>,
    pub salespersons: Vec<BTreeMap<String, AttributeValue>>,
    pub sales: Vec<BTreeMap<String, AttributeValue>>,
    /// Malformed records the collectors meet (those under a malformed parent are never fetched).
    pub malformed: u64,
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(text: impl Into<String>) -> AttributeValue {
    AttributeValue::N(text.into())
}

/// Cents in DynamoDB's normal number form: `1250` is `12.5`, `1200` is `12`.
fn cents(value: u64) -> String {
    match value % 100 {
        0 => format!("{}", value / 100),
        rest if rest % 10 == 0 => format!("{}.{}", value / 100, rest / 10),
        rest => format!("{}.{rest:02}", value / 100),
    }
}

impl Expected {
    pub fn of(data: &Dataset) -> Expected {
        let mut expected = Expected {
            branches: Vec::new(),
            salespersons: Vec::new(),
            sales: Vec::new(),
            malformed: 0,
        };
        let start = data
            .window_start()
            .duration_since(UNIX_EPOCH)
            .expect("window after 1970")
            .as_secs() as i64;
        let end = start + 86_400;
        for branch in data.branches() {
            if branch.malformed.is_some() {
                expected.malformed += 1;
                continue;
            }
            expected.branches.push(BTreeMap::from([
                ("branch_id".into(), s(branch.id.to_string())),
                ("branch_name".into(), s(branch.branch_name.clone())),
                ("city".into(), s(branch.city)),
                ("state".into(), s(branch.state)),
                ("address".into(), s(branch.address.clone())),
                ("phone".into(), s(branch.phone.clone())),
            ]));
            for employee in data.employees(branch.id) {
                if employee.malformed.is_some() {
                    expected.malformed += 1;
                    continue;
                }
                if employee.occupation != vendor_api::Occupation::Salesperson {
                    continue;
                }
                expected.salespersons.push(BTreeMap::from([
                    ("employee_id".into(), s(employee.id.to_string())),
                    ("branch_id".into(), s(branch.id.to_string())),
                    ("first_name".into(), s(employee.first_name)),
                    ("last_name".into(), s(employee.last_name)),
                    ("occupation".into(), s("salesperson")),
                    ("email".into(), s(employee.email.clone())),
                    ("hired_on".into(), s(employee.hired_on.clone())),
                ]));
                for sale in data.sales(employee.id) {
                    if sale.malformed.is_some() {
                        expected.malformed += 1;
                        continue;
                    }
                    assert!((start..end).contains(&sale.transaction_time));
                    expected.sales.push(BTreeMap::from([
                        ("sale_id".into(), s(sale.id.to_string())),
                        ("employee_id".into(), s(employee.id.to_string())),
                        ("branch_id".into(), s(branch.id.to_string())),
                        ("customer".into(), s(sale.customer)),
                        ("product".into(), s(sale.product)),
                        ("quantity".into(), n(sale.quantity.to_string())),
                        ("unit_price".into(), n(cents(sale.unit_price_cents))),
                        ("total".into(), n(cents(sale.total_cents))),
                        (
                            "transaction_timestamp".into(),
                            s(sale.transaction_timestamp()),
                        ),
                    ]));
                }
            }
        }
        expected
    }
}

/// Asserts that a table holds exactly `expected`, each item with a `last_modified` on top;
/// returns the `last_modified` of each item by its first key value.
#[track_caller]
pub fn check_table(
    table: &str,
    mut actual: Vec<BTreeMap<String, AttributeValue>>,
    expected: &[BTreeMap<String, AttributeValue>],
    key: &str,
) -> BTreeMap<String, String> {
    let mut stamps = BTreeMap::new();
    for item in &mut actual {
        let stamp = match item.remove("last_modified") {
            Some(AttributeValue::S(stamp)) => stamp,
            other => panic!("{table}: an item without a string last_modified: {other:?}"),
        };
        stamps.insert(format!("{:?}", item[key]), stamp);
    }
    let order = |items: &mut Vec<BTreeMap<String, AttributeValue>>| {
        items.sort_by_key(|item| format!("{:?}", item.get(key)));
    };
    let mut expected = expected.to_vec();
    order(&mut actual);
    order(&mut expected);
    assert_eq!(actual.len(), expected.len(), "{table}: item count");
    for (got, want) in actual.iter().zip(&expected) {
        assert_eq!(got, want, "{table}: item differs");
    }
    stamps
}

/// Every item of a table through the AWS SDK, page after page, as sorted maps.
pub async fn scan_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<BTreeMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
        items.extend(
            page.items
                .unwrap_or_default()
                .into_iter()
                .map(|item| item.into_iter().collect::<BTreeMap<_, _>>()),
        );
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}
