//! Expression tests as data: each case is one line of input and one line of output, checked with
//! expect-test (`UPDATE_EXPECT=1` rewrites the expectations).

use std::collections::HashMap;

use expect_test::{expect, Expect};

use super::*;
use crate::value::Item;

/// DynamoDB JSON (`{"S":"x"}`) to a value, for writing test data compactly.
pub(crate) fn value(json: &serde_json::Value) -> AttributeValue {
    let (tag, v) = json
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one type tag");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    match tag.as_str() {
        "S" => AttributeValue::S(v.as_str().unwrap().into()),
        "N" => AttributeValue::n(v.as_str().unwrap()).unwrap(),
        "B" => AttributeValue::B(v.as_str().unwrap().as_bytes().to_vec()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap()),
        "NULL" => AttributeValue::Null,
        "M" => AttributeValue::M(item_json(v)),
        "L" => AttributeValue::L(v.as_array().unwrap().iter().map(value).collect()),
        "SS" => AttributeValue::Ss(strings(v)),
        "NS" => AttributeValue::Ns(
            strings(v)
                .iter()
                .map(|s| crate::Number::parse(s).unwrap())
                .collect(),
        ),
        "BS" => AttributeValue::Bs(strings(v).into_iter().map(String::into_bytes).collect()),
        other => panic!("unknown tag {other}"),
    }
}

pub(crate) fn item_json(json: &serde_json::Value) -> Item {
    json.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect()
}

fn item_from(text: &str) -> Item {
    item_json(&serde_json::from_str(text).unwrap())
}

fn names() -> HashMap<String, String> {
    [("#n", "name"), ("#a", "a"), ("#dot", "x.y"), ("#s", "s")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn values() -> HashMap<String, AttributeValue> {
    let text = r#"{
        ":one": {"N": "1"}, ":two": {"N": "2"}, ":ten": {"N": "10"}, ":s": {"S": "abc"},
        ":ab": {"S": "ab"}, ":t": {"S": "N"}, ":badtype": {"S": "X"}, ":list": {"L": [{"N": "9"}]},
        ":ss": {"SS": ["b", "z"]}, ":b": {"BOOL": true}, ":x": {"S": "x"}, ":ns": {"NS": ["5"]}
    }"#;
    item_from(text).into_iter().collect()
}

const ITEM: &str = r#"{
    "pk": {"S": "p"}, "a": {"N": "5"}, "s": {"S": "abcdef"}, "name": {"S": "Ann"},
    "x.y": {"N": "7"}, "tags": {"SS": ["a", "b"]}, "l": {"L": [{"N": "1"}, {"S": "two"}]},
    "m": {"M": {"k": {"S": "v"}, "deep": {"M": {"n": {"N": "3"}}}}}, "flag": {"BOOL": true},
    "nul": {"NULL": true}
}"#;

/// Parses each condition and evaluates it on `ITEM`: `text => true|false|error`.
fn check_conditions(kind: ExprKind, cases: &[&str], expected: Expect) {
    let (names, values) = (names(), values());
    let item = item_from(ITEM);
    let out: Vec<String> = cases
        .iter()
        .map(|text| {
            let mut p = Placeholders::new(&names, &values).unwrap();
            match parse_condition(kind, text, &mut p) {
                Ok(c) => format!("{text} => {}", evaluate(&c, &item)),
                Err(e) => format!("{text} => {e}"),
            }
        })
        .collect();
    expected.assert_eq(&out.join("\n"));
}

#[test]
fn condition_evaluation() {
    check_conditions(
        ExprKind::Condition,
        &[
            "a = :one",
            "a > :one AND a < :ten",
            "a < :one OR a = :one",
            "NOT a = :one",
            "a <> :one",
            "gone <> :one",
            "gone = :one",
            "a BETWEEN :one AND :ten",
            "a IN (:one, :two)",
            "s > :ab",
            "s < :one",
            "attribute_exists(a)",
            "attribute_not_exists(a)",
            "attribute_exists(m.deep.n)",
            "attribute_exists(l[1])",
            "attribute_exists(l[2])",
            "attribute_type(tags, :t)",
            "begins_with(s, :ab)",
            "begins_with(a, :ab)",
            "contains(s, :s)",
            "contains(tags, :ab)",
            "contains(l, :one)",
            "size(s) = :one",
            "size(tags) = :two",
            "size(l) < :ten",
            "#n = :s",
            "#dot = :one",
            "#a = :one OR a = :two AND a = :ten",
            "(#a = :one OR a = :two) AND a = :ten",
            "NOT (a = :one OR a = :two)",
            "m.deep.n = m.deep.n",
            "flag = :b",
        ],
        expect![[r#"
            a = :one => false
            a > :one AND a < :ten => true
            a < :one OR a = :one => false
            NOT a = :one => true
            a <> :one => true
            gone <> :one => true
            gone = :one => false
            a BETWEEN :one AND :ten => true
            a IN (:one, :two) => false
            s > :ab => true
            s < :one => false
            attribute_exists(a) => true
            attribute_not_exists(a) => false
            attribute_exists(m.deep.n) => true
            attribute_exists(l[1]) => true
            attribute_exists(l[2]) => false
            attribute_type(tags, :t) => false
            begins_with(s, :ab) => true
            begins_with(a, :ab) => false
            contains(s, :s) => true
            contains(tags, :ab) => false
            contains(l, :one) => true
            size(s) = :one => false
            size(tags) = :two => true
            size(l) < :ten => true
            #n = :s => false
            #dot = :one => false
            #a = :one OR a = :two AND a = :ten => false
            (#a = :one OR a = :two) AND a = :ten => false
            NOT (a = :one OR a = :two) => true
            m.deep.n = m.deep.n => true
            flag = :b => true"#]],
    );
}

#[test]
fn condition_errors_use_dynamodb_messages() {
    check_conditions(
        ExprKind::Condition,
        &[
            "name = :s",
            "#undefined = :s",
            "a = :undefined",
            "a = ",
            "a == :one",
            "a = :one AND",
            "a $ :one",
            "",
            "foo(a)",
            "size(a)",
            "attribute_exists(a) = :one",
            "if_not_exists(a, :one)",
            "begins_with(s, :one)",
            "attribute_type(a, :badtype)",
            "a BETWEEN :ten AND :one",
            "attribute_exists(a, s)",
            "a.Date = :one",
            "l[x] = :one",
        ],
        expect![[r#"
            name = :s => Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name
            #undefined = :s => Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #undefined
            a = :undefined => Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :undefined
            a =  => Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "= "
            a == :one => Invalid ConditionExpression: Syntax error; token: "=", near: "== :one"
            a = :one AND => Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"
            a $ :one => Invalid ConditionExpression: Syntax error; token: "$", near: "a $"
             => Invalid ConditionExpression: The expression can not be empty;
            foo(a) => Invalid ConditionExpression: Invalid function name; function: foo
            size(a) => Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ")"
            attribute_exists(a) = :one => Invalid ConditionExpression: Syntax error; token: "=", near: ") = :one"
            if_not_exists(a, :one) => Invalid ConditionExpression: The function is not allowed in a condition expression; function: if_not_exists
            begins_with(s, :one) => Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N
            attribute_type(a, :badtype) => Invalid ConditionExpression: Invalid attribute type name found in type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}
            a BETWEEN :ten AND :one => Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}
            attribute_exists(a, s) => Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2
            a.Date = :one => Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Date
            l[x] = :one => Invalid ConditionExpression: Syntax error; token: "x", near: "[x]""#]],
    );
}

#[test]
fn unused_placeholders_are_reported_for_the_request() {
    let names = names();
    let values: HashMap<String, AttributeValue> = [
        (":v".to_string(), AttributeValue::Null),
        (":w".to_string(), AttributeValue::Null),
    ]
    .into_iter()
    .collect();
    let only_names = HashMap::new();
    let mut p = Placeholders::new(&only_names, &values).unwrap();
    parse_condition(ExprKind::Condition, "a = :v", &mut p).unwrap();
    expect![[r#"Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"#]]
        .assert_eq(&p.finish().unwrap_err().to_string());
    let no_values = HashMap::new();
    let mut p = Placeholders::new(&names, &no_values).unwrap();
    parse_condition(ExprKind::Condition, "attribute_exists(#n)", &mut p).unwrap();
    expect![[r##"Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #dot, #s}"##]]
        .assert_eq(&p.finish().unwrap_err().to_string());
    let bad: HashMap<String, String> = [("n".to_string(), "x".to_string())].into_iter().collect();
    expect![[r#"ExpressionAttributeNames contains invalid key: Syntax error; key: "n""#]]
        .assert_eq(
            &Placeholders::new(&bad, &no_values)
                .err()
                .unwrap()
                .to_string(),
        );
}

/// Applies each update to `ITEM` and prints the changed attributes, or the error.
fn check_updates(cases: &[&str], expected: Expect) {
    let (names, values) = (names(), values());
    let item = item_from(ITEM);
    let out: Vec<String> = cases
        .iter()
        .map(|text| {
            let mut p = Placeholders::new(&names, &values).unwrap();
            let result = parse_update(text, &mut p).and_then(|u| apply_update(&item, &u));
            match result {
                Ok(new) => {
                    let mut changes = Vec::new();
                    for (k, v) in &new {
                        if item.get(k) != Some(v) {
                            changes.push(format!("{k}={v:?}"));
                        }
                    }
                    for k in item.keys().filter(|k| !new.contains_key(*k)) {
                        changes.push(format!("-{k}"));
                    }
                    format!("{text} => {}", changes.join(" "))
                }
                Err(e) => format!("{text} => error: {e}"),
            }
        })
        .collect();
    expected.assert_eq(&out.join("\n"));
}

#[test]
fn update_actions() {
    check_updates(
        &[
            "SET a = a + :one",
            "SET a = :ten - a, b = :s",
            "SET c = if_not_exists(c, :one), a = if_not_exists(a, :ten)",
            "SET l = list_append(l, :list)",
            "SET l = list_append(:list, l)",
            "SET l[0] = :s",
            "SET l[9] = :s",
            "SET m.k = :one",
            "SET m.deep.n = m.deep.n + :two",
            "set a = :one remove s",
            "REMOVE l[0], m.deep",
            "REMOVE nothing",
            "ADD a :two",
            "ADD newcount :one",
            "ADD tags :ss",
            "DELETE tags :ss",
            "DELETE tags :ss ADD a :one SET b = :one REMOVE s",
            "SET #n = :s, #dot = :one",
        ],
        expect![[r#"
            SET a = a + :one => a={N:6}
            SET a = :ten - a, b = :s => b={S:"abc"}
            SET c = if_not_exists(c, :one), a = if_not_exists(a, :ten) => c={N:1}
            SET l = list_append(l, :list) => l={L:[{N:1}, {S:"two"}, {N:9}]}
            SET l = list_append(:list, l) => l={L:[{N:9}, {N:1}, {S:"two"}]}
            SET l[0] = :s => l={L:[{S:"abc"}, {S:"two"}]}
            SET l[9] = :s => l={L:[{N:1}, {S:"two"}, {S:"abc"}]}
            SET m.k = :one => m={M:{deep: {M:{n: {N:3}}}, k: {N:1}}}
            SET m.deep.n = m.deep.n + :two => m={M:{deep: {M:{n: {N:5}}}, k: {S:"v"}}}
            set a = :one remove s => a={N:1} -s
            REMOVE l[0], m.deep => l={L:[{S:"two"}]} m={M:{k: {S:"v"}}}
            REMOVE nothing => 
            ADD a :two => a={N:7}
            ADD newcount :one => newcount={N:1}
            ADD tags :ss => tags={SS:["a", "b", "z"]}
            DELETE tags :ss => tags={SS:["a"]}
            DELETE tags :ss ADD a :one SET b = :one REMOVE s => a={N:6} b={N:1} tags={SS:["a"]} -s
            SET #n = :s, #dot = :one => name={S:"abc"} x.y={N:1}"#]],
    );
}

#[test]
fn update_errors() {
    check_updates(
        &[
            "SET s = s + :one",
            "SET a = gone + :one",
            "SET nope.k = :one",
            "SET a.k = :one",
            "SET a = :one, a = :two",
            "SET m = :one REMOVE m.k",
            "SET a = :one SET b = :two",
            "ADD s :one",
            "ADD a :s",
            "DELETE a :one",
            "SET l = list_append(l, :one)",
            "SET a = :s + :one",
            "SET a = attribute_exists(a)",
            "UPSERT a = :one",
            "SET a :one",
            "SET a = :one,",
        ],
        expect![[r#"
            SET s = s + :one => error: An operand in the update expression has an incorrect data type
            SET a = gone + :one => error: The provided expression refers to an attribute that does not exist in the item
            SET nope.k = :one => error: The document path provided in the update expression is invalid for update
            SET a.k = :one => error: The document path provided in the update expression is invalid for update
            SET a = :one, a = :two => error: Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]
            SET m = :one REMOVE m.k => error: Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, k]
            SET a = :one SET b = :two => error: Invalid UpdateExpression: The "SET" section can only be used once in an update expression;
            ADD s :one => error: An operand in the update expression has an incorrect data type
            ADD a :s => error: Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING
            DELETE a :one => error: Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER
            SET l = list_append(l, :one) => error: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: N
            SET a = :s + :one => error: Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S
            SET a = attribute_exists(a) => error: Invalid UpdateExpression: The function is not allowed in an update expression; function: attribute_exists
            UPSERT a = :one => error: Invalid UpdateExpression: Syntax error; token: "UPSERT", near: "UPSERT a"
            SET a :one => error: Invalid UpdateExpression: Syntax error; token: ":one", near: "a :one"
            SET a = :one, => error: Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ",""#]],
    );
}

#[test]
fn projections() {
    let (names, values) = (names(), HashMap::new());
    let item = item_from(ITEM);
    let check = |text: &str, expected: Expect| {
        let mut p = Placeholders::new(&names, &values).unwrap();
        let out = match parse_projection(text, &mut p) {
            Ok(paths) => format!("{:?}", project(&item, &paths.iter().collect::<Vec<_>>())),
            Err(e) => e.to_string(),
        };
        expected.assert_eq(&out);
    };
    check("a, s", expect![[r#"{"a": {N:5}, "s": {S:"abcdef"}}"#]]);
    check(
        "m.deep.n, l[1], #n, gone",
        expect![[r#"{"l": {L:[{S:"two"}]}, "m": {M:{deep: {M:{n: {N:3}}}}}, "name": {S:"Ann"}}"#]],
    );
    check(
        "m, m.k",
        expect![[
            r#"Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, k]"#
        ]],
    );
    check(
        "a,",
        expect![[r#"Invalid ProjectionExpression: Syntax error; token: "<EOF>", near: ",""#]],
    );
}
