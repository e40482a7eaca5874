//! Item reads: GetItem, Query, Scan, BatchGetItem and TransactGetItems.
//!
//! Reads run in one store read transaction each, so a page of a Query or a whole BatchGetItem sees
//! one committed state. Query turns its KeyConditionExpression into bounds on the `sk` column and
//! lets SQLite walk the primary key in order; Scan walks `(pk, sk)`, and a Segment keeps the rows
//! whose partition `hash` falls in its share of the hash range. Both stop at the Limit or after
//! 1 MB of items read, as DynamoDB does, and then return the key of the last item read as
//! LastEvaluatedKey (without looking ahead, as DynamoDB).

use std::collections::{BTreeSet, HashMap};

use store::rusqlite::types::Value as SqlValue;
use store::rusqlite::{params, params_from_iter, CachedStatement, Connection, OptionalExtension};

use crate::encoding::{decode_item, key_bytes};
use crate::error::Error;
use crate::expr::{
    self, evaluate, parse_condition, parse_projection, CmpOp, Condition, ExprKind, Operand, Path,
    PathElem, Placeholders,
};
use crate::table::{self, EncodedKey, TableMeta};
use crate::types::{
    BatchGetItemInput, BatchGetItemOutput, GetItemInput, GetItemOutput, Names, QueryInput,
    QueryOutput, ScanInput, Select, TransactGetItemsInput, TransactGetItemsOutput, Values,
};
use crate::value::{item_size, validate_item, AttributeValue, Item};

/// The most bytes of items one Query or Scan page reads.
const PAGE_BYTES: usize = 1024 * 1024;
/// The most bytes of items one BatchGetItem returns.
const BATCH_GET_BYTES: usize = 16 * 1024 * 1024;
/// The most keys of one BatchGetItem.
const MAX_BATCH_GET: usize = 100;
/// The most actions of one transaction.
pub(crate) const MAX_TRANSACT: usize = 100;

pub(crate) fn get_row(
    conn: &Connection,
    table_id: i64,
    key: &EncodedKey,
) -> Result<Option<Item>, Error> {
    get_row_with(&mut row_lookup(conn)?, table_id, key)
}

/// The statement [`get_row_with`] runs: taken from the cache once for a whole batch of keys
/// rather than once per key (each take hashes the SQL text).
fn row_lookup(conn: &Connection) -> Result<CachedStatement<'_>, Error> {
    Ok(conn.prepare_cached(
        "SELECT item FROM dynamodb_items WHERE table_id = ?1 AND pk = ?2 AND sk = ?3",
    )?)
}

fn get_row_with(
    stmt: &mut CachedStatement<'_>,
    table_id: i64,
    key: &EncodedKey,
) -> Result<Option<Item>, Error> {
    let blob: Option<Vec<u8>> = stmt
        .query_row(params![table_id, key.pk, key.sk], |r| r.get(0))
        .optional()?;
    blob.map(|b| decode_item(&b)).transpose()
}

/// Parses a ProjectionExpression that comes without other expressions (GetItem, BatchGetItem).
fn projection_only(text: Option<&str>, names: &Names) -> Result<Option<Vec<Path>>, Error> {
    let Some(text) = text else {
        expr::reject_unexpected_placeholders(names, &Values::new())?;
        return Ok(None);
    };
    let values = Values::new();
    let mut placeholders = Placeholders::new(names, &values)?;
    let paths = parse_projection(text, &mut placeholders)?;
    placeholders.finish()?;
    Ok(Some(paths))
}

fn projected(item: Item, projection: &Option<Vec<Path>>) -> Item {
    match projection {
        Some(paths) => expr::project(&item, &paths.iter().collect::<Vec<_>>()),
        None => item,
    }
}

pub(crate) fn get_item(conn: &Connection, input: GetItemInput) -> Result<GetItemOutput, Error> {
    let projection = projection_only(
        input.projection_expression.as_deref(),
        &input.expression_attribute_names,
    )?;
    let mut key = input.key;
    validate_item(&mut key)?;
    let meta = table::load(conn, &input.table_name)?;
    let encoded = meta.key(&key)?;
    let item = get_row(conn, meta.id, &encoded)?;
    Ok(GetItemOutput {
        item: item.map(|i| projected(i, &projection)),
    })
}

/// The expressions of a Query or Scan, parsed.
struct ReadExprs {
    key: Option<Condition>,
    filter: Option<Condition>,
    projection: Option<Vec<Path>>,
    count_only: bool,
}

#[allow(clippy::too_many_arguments)]
fn parse_read(
    key_text: Option<&str>,
    filter_text: Option<&str>,
    projection_text: Option<&str>,
    names: &Names,
    values: &Values,
    select: Option<Select>,
    index_name: Option<&str>,
    limit: Option<usize>,
) -> Result<ReadExprs, Error> {
    if let Some(index) = index_name {
        return Err(Error::validation(format!(
            "The table does not have the specified index: {index}"
        )));
    }
    if limit == Some(0) {
        return Err(Error::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    match (select, projection_text.is_some()) {
        (Some(Select::Count), true) => {
            return Err(Error::validation(
                "Cannot specify the ProjectionExpression when choosing to get only the Count",
            ))
        }
        (Some(Select::SpecificAttributes), false) => {
            return Err(Error::validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
            ))
        }
        (Some(Select::AllAttributes), true) => {
            return Err(Error::validation(
                "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
            ))
        }
        (Some(Select::AllProjectedAttributes), _) => {
            return Err(Error::validation(
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
            ))
        }
        _ => {}
    }
    if key_text.is_none() && filter_text.is_none() && projection_text.is_none() {
        expr::reject_unexpected_placeholders(names, values)?;
    }
    let mut placeholders = Placeholders::new(names, values)?;
    let key = key_text
        .map(|t| parse_condition(ExprKind::KeyCondition, t, &mut placeholders))
        .transpose()?;
    let filter = filter_text
        .map(|t| parse_condition(ExprKind::Filter, t, &mut placeholders))
        .transpose()?;
    let projection = projection_text
        .map(|t| parse_projection(t, &mut placeholders))
        .transpose()?;
    placeholders.finish()?;
    Ok(ReadExprs {
        key,
        filter,
        projection,
        count_only: select == Some(Select::Count),
    })
}

/// A condition on the sort key, in index bytes.
#[derive(Debug)]
enum SortCond {
    Cmp(CmpOp, Vec<u8>),
    Between(Vec<u8>, Vec<u8>),
    BeginsWith(Vec<u8>),
}

fn key_error(message: impl Into<String>) -> Error {
    Error::validation(message)
}

fn flatten_and(c: Condition, out: &mut Vec<Condition>) {
    match c {
        Condition::And(a, b) => {
            flatten_and(*a, out);
            flatten_and(*b, out);
        }
        other => out.push(other),
    }
}

fn top_attr(p: &Path) -> Option<&str> {
    match p.0.as_slice() {
        [PathElem::Attr(a)] => Some(a),
        _ => None,
    }
}

/// Splits a KeyConditionExpression into the partition key value and an optional sort condition.
fn key_condition(
    meta: &TableMeta,
    condition: Condition,
) -> Result<(Vec<u8>, Option<SortCond>), Error> {
    let kind = ExprKind::KeyCondition;
    let mut parts = Vec::new();
    flatten_and(condition, &mut parts);
    if parts.len() > 2 {
        return Err(kind.error("Conditions can be of length 1 or 2 only"));
    }
    let mut hash: Option<Vec<u8>> = None;
    let mut sort: Option<SortCond> = None;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for part in parts {
        let (attr, cond_values, op): (String, Vec<AttributeValue>, Option<CmpOp>) = match part {
            Condition::Compare(op, Operand::Path(p), Operand::Value(v)) => (
                top_attr(&p).unwrap_or_default().to_string(),
                vec![v],
                Some(op),
            ),
            Condition::Compare(op, Operand::Value(v), Operand::Path(p)) => {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Ge => CmpOp::Le,
                    other => other,
                };
                (
                    top_attr(&p).unwrap_or_default().to_string(),
                    vec![v],
                    Some(flipped),
                )
            }
            Condition::Between(Operand::Path(p), Operand::Value(a), Operand::Value(b)) => (
                top_attr(&p).unwrap_or_default().to_string(),
                vec![a, b],
                None,
            ),
            Condition::BeginsWith(Operand::Path(p), Operand::Value(v)) => {
                (top_attr(&p).unwrap_or_default().to_string(), vec![v], None)
            }
            Condition::Or(..) => {
                return Err(kind.error("Invalid operator used in KeyConditionExpression: OR"))
            }
            Condition::Not(..) => {
                return Err(kind.error("Invalid operator used in KeyConditionExpression: NOT"))
            }
            Condition::In(..) => {
                return Err(kind.error("Invalid operator used in KeyConditionExpression: IN"))
            }
            Condition::AttributeExists(_) => {
                return Err(
                    kind.error("Invalid operator used in KeyConditionExpression: attribute_exists")
                )
            }
            Condition::AttributeNotExists(_) => {
                return Err(kind.error(
                    "Invalid operator used in KeyConditionExpression: attribute_not_exists",
                ))
            }
            Condition::AttributeType(..) => {
                return Err(
                    kind.error("Invalid operator used in KeyConditionExpression: attribute_type")
                )
            }
            Condition::Contains(..) => {
                return Err(kind.error("Invalid operator used in KeyConditionExpression: contains"))
            }
            _ => return Err(key_error("Query key condition not supported")),
        };
        if !seen.insert(attr.clone()) {
            return Err(
                kind.error("KeyConditionExpressions must only contain one condition per key")
            );
        }
        let key_type = if attr == meta.hash.0 {
            meta.hash.1
        } else if let Some((_, t)) = meta.range.as_ref().filter(|r| r.0 == attr) {
            *t
        } else {
            return Err(key_error(format!(
                "Query condition missed key schema element: {}",
                if seen.contains(&meta.hash.0) {
                    meta.range.as_ref().map_or(&meta.hash.0, |r| &r.0)
                } else {
                    &meta.hash.0
                }
            )));
        };
        for v in &cond_values {
            if v.scalar_type() != Some(key_type) {
                return Err(key_error(
                    "One or more parameter values were invalid: Condition parameter type does not match schema type",
                ));
            }
        }
        let bytes: Vec<Vec<u8>> = cond_values.iter().map(key_bytes).collect();
        if attr == meta.hash.0 {
            if op != Some(CmpOp::Eq) {
                return Err(key_error("Query key condition not supported"));
            }
            hash = bytes.into_iter().next();
        } else {
            let mut bytes = bytes.into_iter();
            let first = bytes.next().unwrap_or_default();
            sort = Some(match (op, bytes.next()) {
                (Some(CmpOp::Ne), _) => return Err(key_error("Query key condition not supported")),
                (Some(op), _) => SortCond::Cmp(op, first),
                (None, Some(second)) => {
                    if first > second {
                        return Err(kind.error(format!(
                            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {:?}, upper bound operand: AttributeValue: {:?}",
                            cond_values[0], cond_values[1]
                        )));
                    }
                    SortCond::Between(first, second)
                }
                (None, None) => {
                    if key_type == crate::value::ScalarType::N {
                        return Err(kind.error(
                            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                        ));
                    }
                    SortCond::BeginsWith(first)
                }
            });
        }
    }
    match hash {
        Some(h) => Ok((h, sort)),
        None => Err(key_error(format!(
            "Query condition missed key schema element: {}",
            meta.hash.0
        ))),
    }
}

/// The smallest byte string greater than every string starting with `prefix`, if there is one.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A bound on `sk`: the bytes and whether the bound itself is included.
type Bound = Option<(Vec<u8>, bool)>;

fn tighter_low(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(if (&y.0, !y.1) > (&x.0, !x.1) { y } else { x }),
    }
}

fn tighter_high(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(if (&y.0, y.1) < (&x.0, x.1) { y } else { x }),
    }
}

/// Reads items in order and pages them by Limit and 1 MB.
struct Pager<'e> {
    exprs: &'e ReadExprs,
    limit: usize,
    out: QueryOutput,
    bytes: usize,
}

impl<'e> Pager<'e> {
    fn new(exprs: &'e ReadExprs, limit: Option<usize>) -> Pager<'e> {
        Pager {
            exprs,
            limit: limit.unwrap_or(usize::MAX),
            out: QueryOutput::default(),
            bytes: 0,
        }
    }

    /// Takes one item read; false when the page is full (LastEvaluatedKey is then set).
    fn take(&mut self, meta: &TableMeta, item: Item) -> bool {
        self.out.scanned_count += 1;
        self.bytes += item_size(&item);
        let full = self.out.scanned_count >= self.limit || self.bytes >= PAGE_BYTES;
        if full {
            self.out.last_evaluated_key = Some(meta.key_of(&item));
        }
        let passes = self
            .exprs
            .filter
            .as_ref()
            .is_none_or(|f| evaluate(f, &item));
        if passes {
            self.out.count += 1;
            if !self.exprs.count_only {
                self.out.items.push(projected(item, &self.exprs.projection));
            }
        }
        !full
    }
}

fn start_key(meta: &TableMeta, key: Option<Item>) -> Result<Option<EncodedKey>, Error> {
    key.map(|mut k| {
        validate_item(&mut k)?;
        meta.key(&k)
            .map_err(|e| Error::validation(format!("The provided starting key is invalid: {e}")))
    })
    .transpose()
}

pub(crate) fn query(conn: &Connection, input: QueryInput) -> Result<QueryOutput, Error> {
    let exprs = parse_read(
        input.key_condition_expression.as_deref(),
        input.filter_expression.as_deref(),
        input.projection_expression.as_deref(),
        &input.expression_attribute_names,
        &input.expression_attribute_values,
        input.select,
        input.index_name.as_deref(),
        input.limit,
    )?;
    let meta = table::load(conn, &input.table_name)?;
    let Some(key_cond) = exprs.key.clone() else {
        return Err(Error::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let (pk, sort) = key_condition(&meta, key_cond)?;
    if let Some(filter) = &exprs.filter {
        check_filter_keys(&meta, filter)?;
    }
    let (mut low, mut high): (Bound, Bound) = match sort {
        None => (None, None),
        Some(SortCond::Cmp(CmpOp::Eq, v)) => (Some((v.clone(), true)), Some((v, true))),
        Some(SortCond::Cmp(CmpOp::Lt, v)) => (None, Some((v, false))),
        Some(SortCond::Cmp(CmpOp::Le, v)) => (None, Some((v, true))),
        Some(SortCond::Cmp(CmpOp::Gt, v)) => (Some((v, false)), None),
        Some(SortCond::Cmp(CmpOp::Ge, v)) => (Some((v, true)), None),
        Some(SortCond::Cmp(CmpOp::Ne, _)) => (None, None),
        Some(SortCond::Between(a, b)) => (Some((a, true)), Some((b, true))),
        Some(SortCond::BeginsWith(p)) => {
            let end = prefix_end(&p).map(|e| (e, false));
            (Some((p, true)), end)
        }
    };
    if let Some(start) = start_key(&meta, input.exclusive_start_key)? {
        if start.pk != pk {
            return Err(Error::validation(
                "The provided starting key is outside query boundaries based on provided conditions",
            ));
        }
        if input.scan_index_forward {
            low = tighter_low(low, Some((start.sk, false)));
        } else {
            high = tighter_high(high, Some((start.sk, false)));
        }
    }
    let mut sql = String::from("SELECT item FROM dynamodb_items WHERE table_id = ?1 AND pk = ?2");
    let mut args: Vec<SqlValue> = vec![meta.id.into(), pk.into()];
    if let Some((bytes, inclusive)) = low {
        args.push(bytes.into());
        sql.push_str(&format!(
            " AND sk {} ?{}",
            if inclusive { ">=" } else { ">" },
            args.len()
        ));
    }
    if let Some((bytes, inclusive)) = high {
        args.push(bytes.into());
        sql.push_str(&format!(
            " AND sk {} ?{}",
            if inclusive { "<=" } else { "<" },
            args.len()
        ));
    }
    sql.push_str(if input.scan_index_forward {
        " ORDER BY sk ASC"
    } else {
        " ORDER BY sk DESC"
    });
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    let mut pager = Pager::new(&exprs, input.limit);
    while let Some(row) = rows.next()? {
        let blob: Vec<u8> = row.get(0)?;
        if !pager.take(&meta, decode_item(&blob)?) {
            break;
        }
    }
    Ok(pager.out)
}

/// DynamoDB refuses key attributes in a Query's FilterExpression.
fn check_filter_keys(meta: &TableMeta, filter: &Condition) -> Result<(), Error> {
    let mut paths = Vec::new();
    collect_paths(filter, &mut paths);
    for p in paths {
        if meta.is_key(p.top()) {
            return Err(Error::validation(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
                p.top()
            )));
        }
    }
    Ok(())
}

fn collect_paths<'c>(c: &'c Condition, out: &mut Vec<&'c Path>) {
    let operand = |o: &'c Operand, out: &mut Vec<&'c Path>| match o {
        Operand::Path(p) | Operand::Size(p) => out.push(p),
        Operand::Value(_) => {}
    };
    match c {
        Condition::Compare(_, a, b) | Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
            operand(a, out);
            operand(b, out);
        }
        Condition::Between(a, b, d) => {
            operand(a, out);
            operand(b, out);
            operand(d, out);
        }
        Condition::In(a, list) => {
            operand(a, out);
            for o in list {
                operand(o, out);
            }
        }
        Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => out.push(p),
        Condition::AttributeType(p, t) => {
            out.push(p);
            operand(t, out);
        }
        Condition::And(a, b) | Condition::Or(a, b) => {
            collect_paths(a, out);
            collect_paths(b, out);
        }
        Condition::Not(a) => collect_paths(a, out),
    }
}

pub(crate) fn scan(conn: &Connection, input: ScanInput) -> Result<QueryOutput, Error> {
    let exprs = parse_read(
        None,
        input.filter_expression.as_deref(),
        input.projection_expression.as_deref(),
        &input.expression_attribute_names,
        &input.expression_attribute_values,
        input.select,
        input.index_name.as_deref(),
        input.limit,
    )?;
    let (low, high) = match (input.segment, input.total_segments) {
        (None, None) => (0i64, 1i64 << 32),
        (Some(segment), Some(total)) => {
            if !(1..=1_000_000).contains(&total) {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000"
                )));
            }
            if segment >= total {
                return Err(Error::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is out of bounds; TotalSegments: {total}"
                )));
            }
            let span = 1i64 << 32;
            (
                span * i64::from(segment) / i64::from(total),
                span * (i64::from(segment) + 1) / i64::from(total),
            )
        }
        (Some(_), None) => {
            return Err(Error::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
    };
    let meta = table::load(conn, &input.table_name)?;
    let start = start_key(&meta, input.exclusive_start_key)?;
    let mut pager = Pager::new(&exprs, input.limit);
    let mut rows_from = |sql: &str, args: Vec<SqlValue>| -> Result<(), Error> {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(0)?;
            if !pager.take(&meta, decode_item(&blob)?) {
                break;
            }
        }
        Ok(())
    };
    match start {
        Some(k) => rows_from(
            "SELECT item FROM dynamodb_items WHERE table_id = ?1 AND hash >= ?2 AND hash < ?3 \
             AND (pk, sk) > (?4, ?5) ORDER BY pk, sk",
            vec![
                meta.id.into(),
                low.into(),
                high.into(),
                k.pk.into(),
                k.sk.into(),
            ],
        )?,
        None => rows_from(
            "SELECT item FROM dynamodb_items WHERE table_id = ?1 AND hash >= ?2 AND hash < ?3 \
             ORDER BY pk, sk",
            vec![meta.id.into(), low.into(), high.into()],
        )?,
    }
    Ok(pager.out)
}

pub(crate) fn batch_get(
    conn: &Connection,
    input: BatchGetItemInput,
) -> Result<BatchGetItemOutput, Error> {
    let total: usize = input.request_items.values().map(|k| k.keys.len()).sum();
    if total > MAX_BATCH_GET {
        return Err(Error::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    if input.request_items.is_empty() || input.request_items.values().any(|k| k.keys.is_empty()) {
        return Err(Error::validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    // The keys are taken out of the input, not copied: a key that is not read (past the 16 MB of
    // one answer) is handed back in `UnprocessedKeys` as it came.
    let mut prepared = Vec::new();
    for (table_name, mut request) in input.request_items {
        let projection = projection_only(
            request.projection_expression.as_deref(),
            &request.expression_attribute_names,
        )?;
        let meta = table::load(conn, &table_name)?;
        let mut keys = Vec::with_capacity(request.keys.len());
        for mut key in std::mem::take(&mut request.keys) {
            validate_item(&mut key)?;
            let encoded = meta.key(&key)?;
            keys.push((key, encoded));
        }
        // Sorted references find a repeated key without copying any.
        let mut sorted: Vec<&EncodedKey> = keys.iter().map(|(_, e)| e).collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::validation(
                "Provided list of item keys contains duplicates",
            ));
        }
        prepared.push((table_name, request, meta, projection, keys));
    }
    let mut out = BatchGetItemOutput::default();
    let mut bytes = 0;
    let mut lookup = row_lookup(conn)?;
    for (table_name, request, meta, projection, keys) in prepared {
        let responses = out.responses.entry(table_name.clone()).or_default();
        for (key, encoded) in keys {
            if bytes >= BATCH_GET_BYTES {
                out.unprocessed_keys
                    .entry(table_name.clone())
                    .or_insert_with(|| request.clone())
                    .keys
                    .push(key);
                continue;
            }
            if let Some(item) = get_row_with(&mut lookup, meta.id, &encoded)? {
                bytes += item_size(&item);
                responses.push(projected(item, &projection));
            }
        }
    }
    Ok(out)
}

pub(crate) fn transact_get(
    conn: &Connection,
    input: TransactGetItemsInput,
) -> Result<TransactGetItemsOutput, Error> {
    if input.transact_items.is_empty() || input.transact_items.len() > MAX_TRANSACT {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_TRANSACT} and greater than or equal to 1"
        )));
    }
    let mut metas: HashMap<String, TableMeta> = HashMap::new();
    let mut responses = Vec::with_capacity(input.transact_items.len());
    for get in input.transact_items {
        let projection = projection_only(
            get.projection_expression.as_deref(),
            &get.expression_attribute_names,
        )?;
        if !metas.contains_key(&get.table_name) {
            metas.insert(get.table_name.clone(), table::load(conn, &get.table_name)?);
        }
        let meta = &metas[&get.table_name];
        let mut key = get.key;
        validate_item(&mut key)?;
        let item = get_row(conn, meta.id, &meta.key(&key)?)?;
        responses.push(item.map(|i| projected(i, &projection)));
    }
    Ok(TransactGetItemsOutput { responses })
}
