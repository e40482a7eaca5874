//! The JSON bodies of the API, written by hand from the core types.
//!
//! Writing straight into one byte buffer per page, with fields in the order of `source-api.md`,
//! keeps the server far from being the cascade's bottleneck; the core types stay free of any wire
//! format. A malformed record is written here: its id left out, or its timestamp replaced.

use crate::dataset::{write_timestamp, Branch, Dataset, Employee, Sale};
use crate::faults::Malformation;

/// A branch as one JSON object.
pub fn branch_json(branch: &Branch) -> String {
    into_string(|out| write_branch(out, branch))
}

/// An employee as one JSON object.
pub fn employee_json(employee: &Employee) -> String {
    into_string(|out| write_employee(out, employee))
}

/// A sale as one JSON object.
pub fn sale_json(sale: &Sale) -> String {
    into_string(|out| write_sale(out, sale))
}

/// The page of branches from offset `cursor`: all branches, or those named in `names` (by id, each
/// once, unknown names left out).
pub fn branches_page_json(dataset: &Dataset, names: &[String], cursor: u64, limit: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity(limit.min(1_000) as usize * 160 + 64);
    if names.is_empty() {
        let (start, end, next) = bounds(cursor, limit, dataset.branch_count());
        let branches = (start + 1..=end).filter_map(|id| dataset.branch(id));
        write_page(&mut body, ListShape::Branches, branches, write_branch, next);
    } else {
        let mut ids: Vec<u64> = names
            .iter()
            .filter_map(|name| dataset.branch_by_name(name).map(|branch| branch.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let (start, end, next) = bounds(cursor, limit, ids.len() as u64);
        let branches = ids[start as usize..end as usize]
            .iter()
            .filter_map(|&id| dataset.branch(id));
        write_page(&mut body, ListShape::Branches, branches, write_branch, next);
    }
    body
}

/// The page of a branch's employees from offset `cursor`; `None` for an unknown branch.
pub fn employees_page_json(
    dataset: &Dataset,
    branch_id: u64,
    cursor: u64,
    limit: u64,
) -> Option<Vec<u8>> {
    let total = dataset.employee_count(branch_id)?;
    let (start, end, next) = bounds(cursor, limit, total);
    let mut body = Vec::with_capacity((end - start) as usize * 200 + 64);
    let employees = dataset.employee_range(branch_id, start, end);
    write_page(
        &mut body,
        ListShape::Employees,
        employees,
        write_employee,
        next,
    );
    Some(body)
}

/// The page of an employee's sales from offset `cursor`; `None` for an unknown employee (an
/// employee who does not sell has an empty list).
pub fn sales_page_json(
    dataset: &Dataset,
    salesperson_id: u64,
    cursor: u64,
    limit: u64,
) -> Option<Vec<u8>> {
    let total = dataset.sale_count(salesperson_id)?;
    let (start, end, next) = bounds(cursor, limit, total);
    let mut body = Vec::with_capacity((end - start) as usize * 260 + 64);
    let sales = dataset.sale_range(salesperson_id, start, end);
    write_page(&mut body, ListShape::Sales, sales, write_sale, next);
    Some(body)
}

/// The records `start..end` of `total` for a page at `cursor`, and the next page's cursor if any
/// record is left.
fn bounds(cursor: u64, limit: u64, total: u64) -> (u64, u64, Option<u64>) {
    let start = cursor.min(total);
    let end = start.saturating_add(limit).min(total);
    (start, end, (end < total).then_some(end))
}

fn into_string(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::with_capacity(256);
    write(&mut out);
    // Every writer emits valid UTF-8: ASCII syntax around escaped UTF-8 strings.
    String::from_utf8(out).unwrap_or_default()
}

/// The list shapes of the three endpoints.
#[derive(Debug, Clone, Copy)]
enum ListShape {
    /// `{"result": [...], "next": ...}`
    Branches,
    /// `{"result": {"employees": [...]}, "next": ...}`
    Employees,
    /// `{"result": {"sales": [...]}, "next": ...}`
    Sales,
}

impl ListShape {
    fn open(self) -> &'static [u8] {
        match self {
            ListShape::Branches => b"{\"result\":[",
            ListShape::Employees => b"{\"result\":{\"employees\":[",
            ListShape::Sales => b"{\"result\":{\"sales\":[",
        }
    }

    fn close(self) -> &'static [u8] {
        match self {
            ListShape::Branches => b"],\"next\":",
            ListShape::Employees | ListShape::Sales => b"]},\"next\":",
        }
    }
}

/// Writes a page: the shape's opening, each record, and `next`.
fn write_page<T>(
    out: &mut Vec<u8>,
    shape: ListShape,
    records: impl Iterator<Item = T>,
    mut write_record: impl FnMut(&mut Vec<u8>, &T),
    next: Option<u64>,
) {
    out.extend_from_slice(shape.open());
    for (i, record) in records.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_record(out, &record);
    }
    out.extend_from_slice(shape.close());
    match next {
        Some(cursor) => {
            out.push(b'"');
            write_u64(out, cursor);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// Writes `{"error": message}`.
pub(crate) fn error_body(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    out.extend_from_slice(b"{\"error\":");
    write_str(&mut out, message);
    out.push(b'}');
    out
}

/// Opens a record object, with its id unless the record is served without one.
fn open_record(out: &mut Vec<u8>, id: u64, malformed: Option<Malformation>) {
    out.push(b'{');
    if malformed == Some(Malformation::MissingId) {
        return;
    }
    out.extend_from_slice(b"\"id\":");
    write_u64(out, id);
    out.push(b',');
}

fn write_branch(out: &mut Vec<u8>, branch: &Branch) {
    open_record(out, branch.id, branch.malformed);
    out.extend_from_slice(b"\"branch_name\":");
    write_str(out, &branch.branch_name);
    out.extend_from_slice(b",\"city\":");
    write_str(out, branch.city);
    out.extend_from_slice(b",\"state\":");
    write_str(out, branch.state);
    out.extend_from_slice(b",\"address\":");
    write_str(out, &branch.address);
    out.extend_from_slice(b",\"phone\":");
    write_str(out, &branch.phone);
    out.push(b'}');
}

fn write_employee(out: &mut Vec<u8>, employee: &Employee) {
    open_record(out, employee.id, employee.malformed);
    out.extend_from_slice(b"\"branch_id\":");
    write_u64(out, employee.branch_id);
    out.extend_from_slice(b",\"first_name\":");
    write_str(out, employee.first_name);
    out.extend_from_slice(b",\"last_name\":");
    write_str(out, employee.last_name);
    out.extend_from_slice(b",\"occupation\":");
    write_str(out, employee.occupation.as_str());
    out.extend_from_slice(b",\"email\":");
    write_str(out, &employee.email);
    out.extend_from_slice(b",\"hired_on\":");
    match employee.malformed {
        Some(Malformation::BadTimestamp(bad)) => write_str(out, bad),
        _ => write_str(out, &employee.hired_on),
    }
    out.push(b'}');
}

fn write_sale(out: &mut Vec<u8>, sale: &Sale) {
    open_record(out, sale.id, sale.malformed);
    out.extend_from_slice(b"\"salesperson_id\":");
    write_u64(out, sale.salesperson_id);
    out.extend_from_slice(b",\"branch_id\":");
    write_u64(out, sale.branch_id);
    out.extend_from_slice(b",\"customer\":");
    write_str(out, sale.customer);
    out.extend_from_slice(b",\"product\":");
    write_str(out, sale.product);
    out.extend_from_slice(b",\"quantity\":");
    write_u64(out, sale.quantity);
    out.extend_from_slice(b",\"unit_price\":\"");
    write_cents(out, sale.unit_price_cents);
    out.extend_from_slice(b"\",\"total\":\"");
    write_cents(out, sale.total_cents);
    out.extend_from_slice(b"\",\"transaction_timestamp\":");
    match sale.malformed {
        Some(Malformation::BadTimestamp(bad)) => write_str(out, bad),
        _ => {
            out.push(b'"');
            write_timestamp(out, sale.transaction_time);
            out.push(b'"');
        }
    }
    out.push(b'}');
}

fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_cents(out: &mut Vec<u8>, cents: u64) {
    write_u64(out, cents / 100);
    out.push(b'.');
    let rest = (cents % 100) as u8;
    out.push(b'0' + rest / 10);
    out.push(b'0' + rest % 10);
}

/// Writes a JSON string, escaping quotes, backslashes and control characters.
fn write_str(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    // Almost every string needs no escape. A branch-free fold over the bytes (which the compiler
    // vectorises) finds that out faster than a loop that stops at the first escape.
    let needs_escape = bytes.iter().fold(false, |any, &b| {
        any | (b == b'"') | (b == b'\\') | (b < 0x20)
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut run_start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte != b'"' && byte != b'\\' && byte >= 0x20 {
            continue;
        }
        out.extend_from_slice(&bytes[run_start..i]);
        run_start = i + 1;
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\u000ad\u0001é""#
        );
    }

    #[test]
    fn numbers_are_plain_digits() {
        for value in [0, 7, 10, 99_999, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
        let mut out = Vec::new();
        write_cents(&mut out, 100_005);
        assert_eq!(out, b"1000.05");
    }
}
