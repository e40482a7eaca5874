//! Vendor records checked one by one, and the table items they become.
//!
//! A record that fails a check is a [`Rejection`] naming its id (when it has one) and the reason;
//! the caller logs it, counts it and goes on with the rest of the page. The checks follow
//! `source-api.md`: integer ids, string fields, `YYYY-MM-DD` hire dates, `YYYY-MM-DD HH:MM:SS` sale
//! times, integer quantities and decimal amounts. A record that belongs to another branch or
//! salesperson than the one asked for is rejected too.
//!
//! Items: ids become strings (the tables' key type), both keys of a composite key are written,
//! quantities and amounts become numbers in DynamoDB's normal form (`12.50` is `12.5`), so that a
//! stored item compares equal to a fresh one. `last_modified` is added by `table.rs`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::page::RawRecord;
use crate::time::{is_vendor_date, parse_vendor_timestamp};

/// A table item: attribute name to value.
pub type Item = HashMap<String, AttributeValue>;

/// The key and attribute layout of one of the three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    pub hash_key: &'static str,
    pub range_key: Option<&'static str>,
    /// Every attribute the collector writes, keys included, `last_modified` excluded.
    pub attributes: &'static [&'static str],
}

/// `branch-<env>`: `branch_id` HASH.
pub const BRANCH_TABLE: TableSpec = TableSpec {
    hash_key: "branch_id",
    range_key: None,
    attributes: &[
        "branch_id",
        "branch_name",
        "city",
        "state",
        "address",
        "phone",
    ],
};

/// `salesperson-<env>`: `employee_id` HASH, `branch_id` RANGE.
pub const SALESPERSON_TABLE: TableSpec = TableSpec {
    hash_key: "employee_id",
    range_key: Some("branch_id"),
    attributes: &[
        "employee_id",
        "branch_id",
        "first_name",
        "last_name",
        "occupation",
        "email",
        "hired_on",
    ],
};

/// `sale-<env>`: `sale_id` HASH, `employee_id` RANGE.
pub const SALE_TABLE: TableSpec = TableSpec {
    hash_key: "sale_id",
    range_key: Some("employee_id"),
    attributes: &[
        "sale_id",
        "employee_id",
        "branch_id",
        "customer",
        "product",
        "quantity",
        "unit_price",
        "total",
        "transaction_timestamp",
    ],
};

/// The attribute every write adds: when the collector last changed the item (RFC 3339, UTC).
pub const LAST_MODIFIED: &str = "last_modified";

/// A record that failed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `branch`, `employee` or `sale`.
    pub kind: &'static str,
    /// The record's `id` as served, when it has one.
    pub id: Option<String>,
    pub reason: String,
}

impl Rejection {
    fn new(kind: &'static str, raw: &RawRecord, reason: String) -> Rejection {
        Rejection {
            kind,
            id: raw.get("id").map(|id| match id {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }),
            reason,
        }
    }

    /// Logs the rejection as one warning line.
    pub fn log(&self) {
        tracing::warn!(
            kind = self.kind,
            id = self.id.as_deref().unwrap_or("-"),
            reason = %self.reason,
            "rejected a malformed vendor record"
        );
    }
}

/// Reads fields of one raw record, turning the first problem into a reason. Text fields are
/// taken out of the record rather than copied.
struct Fields<'a>(&'a mut RawRecord);

impl Fields<'_> {
    fn int(&self, name: &str) -> Result<u64, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(format!("missing `{name}`")),
            Some(value) => value
                .as_u64()
                .ok_or_else(|| format!("`{name}` is not a non-negative integer: {value}")),
        }
    }

    fn text(&mut self, name: &str) -> Result<String, String> {
        match self.0.take(name) {
            None | Some(Value::Null) => Err(format!("missing `{name}`")),
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(format!("`{name}` is not a string: {other}")),
        }
    }

    fn id(&self) -> Result<u64, String> {
        let id = self.int("id")?;
        if id == 0 {
            return Err("`id` is 0".to_owned());
        }
        Ok(id)
    }
}

/// A branch that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRecord {
    pub id: u64,
    pub branch_name: String,
    pub city: String,
    pub state: String,
    pub address: String,
    pub phone: String,
}

impl BranchRecord {
    pub fn check(mut raw: RawRecord) -> Result<BranchRecord, Rejection> {
        let record = Self::read(&mut Fields(&mut raw));
        record.map_err(|reason| Rejection::new("branch", &raw, reason))
    }

    fn read(f: &mut Fields<'_>) -> Result<BranchRecord, String> {
        let record = BranchRecord {
            id: f.id()?,
            branch_name: f.text("branch_name")?,
            city: f.text("city")?,
            state: f.text("state")?,
            address: f.text("address")?,
            phone: f.text("phone")?,
        };
        if record.branch_name.is_empty() {
            return Err("`branch_name` is empty".to_owned());
        }
        Ok(record)
    }

    pub fn to_item(&self) -> Item {
        HashMap::from([
            s("branch_id", self.id.to_string()),
            s("branch_name", self.branch_name.clone()),
            s("city", self.city.clone()),
            s("state", self.state.clone()),
            s("address", self.address.clone()),
            s("phone", self.phone.clone()),
        ])
    }
}

/// An employee that passed its checks (of any occupation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeRecord {
    pub id: u64,
    pub branch_id: u64,
    pub first_name: String,
    pub last_name: String,
    pub occupation: String,
    pub email: String,
    pub hired_on: String,
}

impl EmployeeRecord {
    /// Checks an employee listed for branch `branch_id`.
    pub fn check(mut raw: RawRecord, branch_id: u64) -> Result<EmployeeRecord, Rejection> {
        let record = Self::read(&mut Fields(&mut raw), branch_id);
        record.map_err(|reason| Rejection::new("employee", &raw, reason))
    }

    fn read(f: &mut Fields<'_>, branch_id: u64) -> Result<EmployeeRecord, String> {
        let record = EmployeeRecord {
            id: f.id()?,
            branch_id: f.int("branch_id")?,
            first_name: f.text("first_name")?,
            last_name: f.text("last_name")?,
            occupation: f.text("occupation")?,
            email: f.text("email")?,
            hired_on: f.text("hired_on")?,
        };
        if record.branch_id != branch_id {
            return Err(format!(
                "`branch_id` is {}, but the list is of branch {branch_id}",
                record.branch_id
            ));
        }
        if !is_vendor_date(&record.hired_on) {
            return Err(format!(
                "`hired_on` is not a YYYY-MM-DD date: {:?}",
                record.hired_on
            ));
        }
        Ok(record)
    }

    /// Only salespersons go on to the salesperson table and the sale queue.
    pub fn is_salesperson(&self) -> bool {
        self.occupation.eq_ignore_ascii_case("salesperson")
    }

    pub fn to_item(&self) -> Item {
        HashMap::from([
            s("employee_id", self.id.to_string()),
            s("branch_id", self.branch_id.to_string()),
            s("first_name", self.first_name.clone()),
            s("last_name", self.last_name.clone()),
            s("occupation", self.occupation.clone()),
            s("email", self.email.clone()),
            s("hired_on", self.hired_on.clone()),
        ])
    }
}

/// A sale that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    pub id: u64,
    pub salesperson_id: u64,
    pub branch_id: u64,
    pub customer: String,
    pub product: String,
    pub quantity: u64,
    /// In DynamoDB's normal number form.
    pub unit_price: String,
    /// In DynamoDB's normal number form.
    pub total: String,
    /// As served, `YYYY-MM-DD HH:MM:SS`.
    pub transaction_timestamp: String,
    /// The transaction time in Unix seconds.
    pub at: i64,
}

impl SaleRecord {
    /// Checks a sale listed for salesperson `salesperson_id`.
    pub fn check(mut raw: RawRecord, salesperson_id: u64) -> Result<SaleRecord, Rejection> {
        let record = Self::read(&mut Fields(&mut raw), salesperson_id);
        record.map_err(|reason| Rejection::new("sale", &raw, reason))
    }

    fn read(f: &mut Fields<'_>, salesperson_id: u64) -> Result<SaleRecord, String> {
        let id = f.id()?;
        let seller = f.int("salesperson_id")?;
        if seller != salesperson_id {
            return Err(format!(
                "`salesperson_id` is {seller}, but the list is of salesperson {salesperson_id}"
            ));
        }
        let transaction_timestamp = f.text("transaction_timestamp")?;
        let at = parse_vendor_timestamp(&transaction_timestamp).ok_or_else(|| {
            format!("`transaction_timestamp` is not YYYY-MM-DD HH:MM:SS: {transaction_timestamp:?}")
        })?;
        Ok(SaleRecord {
            id,
            salesperson_id: seller,
            branch_id: f.int("branch_id")?,
            customer: f.text("customer")?,
            product: f.text("product")?,
            quantity: f.int("quantity")?,
            unit_price: decimal(f, "unit_price")?,
            total: decimal(f, "total")?,
            transaction_timestamp,
            at,
        })
    }

    /// The item, made of the sale's own strings (a million sales a run: no copies).
    pub fn into_item(self) -> Item {
        HashMap::from([
            s("sale_id", self.id.to_string()),
            s("employee_id", self.salesperson_id.to_string()),
            s("branch_id", self.branch_id.to_string()),
            s("customer", self.customer),
            s("product", self.product),
            n("quantity", self.quantity.to_string()),
            n("unit_price", self.unit_price),
            n("total", self.total),
            s("transaction_timestamp", self.transaction_timestamp),
        ])
    }
}

fn s(name: &str, value: String) -> (String, AttributeValue) {
    (name.to_owned(), AttributeValue::S(value))
}

fn n(name: &str, value: String) -> (String, AttributeValue) {
    (name.to_owned(), AttributeValue::N(value))
}

/// A decimal amount served as a string (`"12.50"`), in DynamoDB's normal number form.
fn decimal(f: &mut Fields<'_>, name: &str) -> Result<String, String> {
    let text = f.text(name)?;
    normal_decimal(&text).ok_or_else(|| format!("`{name}` is not a decimal amount: {text:?}"))
}

/// `[-]digits[.digits]` without redundant zeros (`007.50` is `7.5`, `-0.00` is `0`); `None` for
/// anything else or for more than 38 significant digits, DynamoDB's precision.
pub fn normal_decimal(text: &str) -> Option<String> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || unsigned.ends_with('.') {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    if whole.len() + fraction.len() > 38 {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    if negative && !(whole.is_empty() && fraction.is_empty()) {
        out.push('-');
    }
    out.push_str(if whole.is_empty() { "0" } else { whole });
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{Members, BRANCH, EMPLOYEE, SALE};

    fn raw(members: Members, json: &str) -> RawRecord {
        RawRecord::from_json(members, json).unwrap()
    }

    /// Checks each sale against salesperson 100002 and prints the outcome, one line each.
    #[track_caller]
    fn check_sales(cases: &[&str], expected: expect_test::Expect) {
        let actual: String = cases
            .iter()
            .map(|json| match SaleRecord::check(raw(SALE, json), 100_002) {
                Ok(sale) => format!(
                    "ok {} {} {} {}\n",
                    sale.id, sale.unit_price, sale.total, sale.at
                ),
                Err(r) => format!("rejected {} {:?}: {}\n", r.kind, r.id, r.reason),
            })
            .collect();
        expected.assert_eq(&actual);
    }

    #[test]
    fn sales_are_checked_field_by_field() {
        let fields = r#""branch_id":1,"customer":"c","product":"p","quantity":3,"unit_price":"12.50","total":"37.50""#;
        check_sales(
            &[
                &format!(
                    r#"{{"id":10000200001,"salesperson_id":100002,{fields},"transaction_timestamp":"2023-11-14 22:13:20"}}"#
                ),
                &format!(
                    r#"{{"salesperson_id":100002,{fields},"transaction_timestamp":"2023-11-14 22:13:20"}}"#
                ),
                &format!(
                    r#"{{"id":7,"salesperson_id":100002,{fields},"transaction_timestamp":"yesterday 14:00"}}"#
                ),
                &format!(
                    r#"{{"id":8,"salesperson_id":100003,{fields},"transaction_timestamp":"2023-11-14 22:13:20"}}"#
                ),
                r#"{"id":9,"salesperson_id":100002,"branch_id":1,"customer":"c","product":"p","quantity":-1,"unit_price":"1","total":"1","transaction_timestamp":"2023-11-14 22:13:20"}"#,
                r#"{"id":"10","salesperson_id":100002}"#,
                r#"{"id":11,"salesperson_id":100002,"branch_id":1,"customer":"c","product":"p","quantity":1,"unit_price":"1.2.3","total":"1","transaction_timestamp":"2023-11-14 22:13:20"}"#,
            ],
            expect_test::expect![[r#"
                ok 10000200001 12.5 37.5 1700000000
                rejected sale None: missing `id`
                rejected sale Some("7"): `transaction_timestamp` is not YYYY-MM-DD HH:MM:SS: "yesterday 14:00"
                rejected sale Some("8"): `salesperson_id` is 100003, but the list is of salesperson 100002
                rejected sale Some("9"): `quantity` is not a non-negative integer: -1
                rejected sale Some("10"): `id` is not a non-negative integer: "10"
                rejected sale Some("11"): `unit_price` is not a decimal amount: "1.2.3"
            "#]],
        );
    }

    #[test]
    fn employees_and_branches_are_checked() {
        let employee = r#"{"id":100001,"branch_id":1,"first_name":"Jim","last_name":"Halpert","occupation":"salesperson","email":"j@d.com","hired_on":"2019-02-30"}"#;
        let rejection = EmployeeRecord::check(raw(EMPLOYEE, employee), 1).unwrap_err();
        assert_eq!(
            rejection.reason,
            r#"`hired_on` is not a YYYY-MM-DD date: "2019-02-30""#
        );
        let good = employee.replace("2019-02-30", "2019-02-28");
        let record = EmployeeRecord::check(raw(EMPLOYEE, &good), 1).unwrap();
        assert!(record.is_salesperson());
        let wrong_branch = EmployeeRecord::check(raw(EMPLOYEE, &good), 2).unwrap_err();
        assert_eq!(
            wrong_branch.reason,
            "`branch_id` is 1, but the list is of branch 2"
        );
        let branch = r#"{"id":1,"branch_name":"Scranton","city":"Scranton","state":"PA","address":"1725 Slough Avenue"}"#;
        assert_eq!(
            BranchRecord::check(raw(BRANCH, branch)).unwrap_err().reason,
            "missing `phone`"
        );
    }

    #[test]
    fn decimals_take_dynamodbs_normal_form() {
        let cases = [
            ("12.50", Some("12.5")),
            ("0.00", Some("0")),
            ("007.05", Some("7.05")),
            ("-0.0", Some("0")),
            ("-3.10", Some("-3.1")),
            ("100", Some("100")),
            ("1.", None),
            (".5", None),
            ("1e3", None),
            ("", None),
            ("--1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(normal_decimal(text).as_deref(), expected, "{text:?}");
        }
    }
}
