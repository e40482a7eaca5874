//! PutItem, GetItem, DeleteItem and UpdateItem: replacement, projection, conditions, ReturnValues.

use dynamodb::{
    DeleteItemInput, Error, GetItemInput, PutItemInput, ReturnOnFailure, ReturnValues, ScalarType,
    UpdateItemInput,
};
use expect_test::expect;

use crate::support::*;

fn put(e: &Env, item: &str) -> Result<Option<dynamodb::Item>, Error> {
    e.db.put_item(PutItemInput {
        table_name: "tbl".into(),
        item: j(item),
        ..Default::default()
    })
    .map(|o| o.attributes)
}

fn get(e: &Env, key: &str) -> Option<dynamodb::Item> {
    e.db.get_item(GetItemInput {
        table_name: "tbl".into(),
        key: j(key),
        ..Default::default()
    })
    .unwrap()
    .item
}

fn table() -> Env {
    let e = env();
    create(&e.db, "tbl", None, None);
    e
}

#[test]
fn put_replaces_the_whole_item_and_numbers_come_back_normalised() {
    let e = table();
    put(&e, r#"{"pk":{"S":"a"},"old":{"S":"x"},"n":{"N":"1.50"}}"#).unwrap();
    assert_eq!(
        show(&get(&e, r#"{"pk":{"S":"a"}}"#).unwrap()),
        r#"{"n": {N:1.5}, "old": {S:"x"}, "pk": {S:"a"}}"#
    );
    let old =
        e.db.put_item(PutItemInput {
            table_name: "tbl".into(),
            item: j(r#"{"pk":{"S":"a"},"new":{"N":"-0"}}"#),
            return_values: ReturnValues::AllOld,
            ..Default::default()
        })
        .unwrap()
        .attributes;
    assert_eq!(
        show(&old.unwrap()),
        r#"{"n": {N:1.5}, "old": {S:"x"}, "pk": {S:"a"}}"#
    );
    assert_eq!(
        show(&get(&e, r#"{"pk":{"S":"a"}}"#).unwrap()),
        r#"{"new": {N:0}, "pk": {S:"a"}}"#
    );
    let bad = e.db.put_item(PutItemInput {
        table_name: "tbl".into(),
        item: j(r#"{"pk":{"S":"a"}}"#),
        return_values: ReturnValues::AllNew,
        ..Default::default()
    });
    assert_eq!(
        bad.unwrap_err().to_string(),
        "Return values set to invalid value"
    );
}

#[test]
fn items_over_400_kb_are_refused() {
    let e = table();
    let big = "x".repeat(400 * 1024);
    let err = put(&e, &format!(r#"{{"pk":{{"S":"a"}},"d":{{"S":"{big}"}}}}"#)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Item size has exceeded the maximum allowed size"
    );
    let fits = "x".repeat(400 * 1024 - 1 - 3 - 1);
    put(&e, &format!(r#"{{"pk":{{"S":"a"}},"d":{{"S":"{fits}"}}}}"#)).unwrap();
    let grow = e.db.update_item(UpdateItemInput {
        table_name: "tbl".into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        update_expression: Some("SET e = :v".into()),
        expression_attribute_values: vals(r#"{":v":{"S":"yy"}}"#),
        ..Default::default()
    });
    assert_eq!(
        grow.unwrap_err().to_string(),
        "Item size to update has exceeded the maximum allowed size"
    );
}

#[test]
fn get_item_projection_uses_names_and_nested_paths() {
    let e = table();
    put(&e, r#"{"pk":{"S":"a"},"name":{"S":"Jim"},"m":{"M":{"x":{"N":"1"},"y":{"N":"2"}}},"l":{"L":[{"S":"a"},{"S":"b"}]}}"#).unwrap();
    let got =
        e.db.get_item(GetItemInput {
            table_name: "tbl".into(),
            key: j(r#"{"pk":{"S":"a"}}"#),
            projection_expression: Some("#n, m.y, l[1]".into()),
            expression_attribute_names: names(&[("#n", "name")]),
            consistent_read: true,
        })
        .unwrap();
    assert_eq!(
        show(&got.item.unwrap()),
        r#"{"l": {L:[{S:"b"}]}, "m": {M:{y: {N:2}}}, "name": {S:"Jim"}}"#
    );
    let reserved = e.db.get_item(GetItemInput {
        table_name: "tbl".into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        projection_expression: Some("name".into()),
        ..Default::default()
    });
    assert_eq!(
        reserved.unwrap_err().to_string(),
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    );
}

#[test]
fn condition_attribute_not_exists_fails_with_conditional_check_failed() {
    let e = table();
    let create_once = |item: &str, on_failure| {
        e.db.put_item(PutItemInput {
            table_name: "tbl".into(),
            item: j(item),
            condition_expression: Some("attribute_not_exists(pk)".into()),
            return_values_on_condition_check_failure: on_failure,
            ..Default::default()
        })
    };
    create_once(r#"{"pk":{"S":"a"},"v":{"N":"1"}}"#, ReturnOnFailure::None).unwrap();
    let err = create_once(r#"{"pk":{"S":"a"},"v":{"N":"2"}}"#, ReturnOnFailure::None).unwrap_err();
    assert_eq!(err, Error::ConditionalCheckFailed { item: None });
    assert_eq!(err.code(), "ConditionalCheckFailedException");
    assert_eq!(err.to_string(), "The conditional request failed");
    let err =
        create_once(r#"{"pk":{"S":"a"},"v":{"N":"3"}}"#, ReturnOnFailure::AllOld).unwrap_err();
    assert_eq!(
        err,
        Error::ConditionalCheckFailed {
            item: Some(j(r#"{"pk":{"S":"a"},"v":{"N":"1"}}"#))
        }
    );
    assert_eq!(
        show(&get(&e, r#"{"pk":{"S":"a"}}"#).unwrap()),
        r#"{"pk": {S:"a"}, "v": {N:1}}"#
    );
}

#[test]
fn placeholders_must_be_defined_and_used() {
    let e = table();
    let attempt = |cond: &str, n: &[(&str, &str)], v: &str| {
        e.db.put_item(PutItemInput {
            table_name: "tbl".into(),
            item: j(r#"{"pk":{"S":"a"}}"#),
            condition_expression: Some(cond.into()),
            expression_attribute_names: names(n),
            expression_attribute_values: vals(v),
            ..Default::default()
        })
        .map(|_| "ok".to_string())
        .unwrap_or_else(|e| format!("{}: {e}", e.code()))
    };
    let out = [
        attempt("attribute_not_exists(#s)", &[("#s", "status")], "{}"),
        attempt("attribute_not_exists(status)", &[], "{}"),
        attempt("attribute_not_exists(pk)", &[], r#"{":v":{"N":"1"}}"#),
        attempt("attribute_not_exists(pk)", &[("#x", "x")], "{}"),
        attempt("v = :v", &[], "{}"),
        attempt("#x = :v", &[], r#"{":v":{"N":"1"}}"#),
    ]
    .join("\n");
    expect![[r##"
        ok
        ValidationException: Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status
        ValidationException: Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}
        ValidationException: Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}
        ValidationException: Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v
        ValidationException: Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"##]]
    .assert_eq(&out);
    let no_expression = e.db.put_item(PutItemInput {
        table_name: "tbl".into(),
        item: j(r#"{"pk":{"S":"a"}}"#),
        expression_attribute_values: vals(r#"{":v":{"N":"1"}}"#),
        ..Default::default()
    });
    assert_eq!(
        no_expression.unwrap_err().to_string(),
        "ExpressionAttributeValues can only be specified when using expressions"
    );
}

#[test]
fn update_item_changes_attributes_and_returns_values() {
    let e = env();
    create(&e.db, "tbl", Some(ScalarType::N), None);
    let update = |expr: &str, v: &str, rv: ReturnValues| {
        e.db.update_item(UpdateItemInput {
            table_name: "tbl".into(),
            key: j(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#),
            update_expression: Some(expr.into()),
            expression_attribute_values: vals(v),
            return_values: rv,
            ..Default::default()
        })
        .map(|o| o.attributes.map(|a| show(&a)).unwrap_or_default())
        .unwrap_or_else(|e| e.to_string())
    };
    let out = [
        update(
            "SET c = :one, l = :l",
            r#"{":one":{"N":"1"},":l":{"L":[]}}"#,
            ReturnValues::AllNew,
        ),
        update(
            "SET c = c + :one, l = list_append(l, :l)",
            r#"{":one":{"N":"1"},":l":{"L":[{"S":"x"}]}}"#,
            ReturnValues::UpdatedNew,
        ),
        update(
            "ADD c :one, s :s",
            r#"{":one":{"N":"-5"},":s":{"SS":["a","b"]}}"#,
            ReturnValues::UpdatedOld,
        ),
        update(
            "DELETE s :s REMOVE l",
            r#"{":s":{"SS":["a"]}}"#,
            ReturnValues::AllOld,
        ),
        update("SET sk = :one", r#"{":one":{"N":"2"}}"#, ReturnValues::None),
        update(
            "SET c = :one",
            r#"{":one":{"N":"-3"}}"#,
            ReturnValues::UpdatedNew,
        ),
    ]
    .join("\n");
    expect![[r#"
        {"c": {N:1}, "l": {L:[]}, "pk": {S:"a"}, "sk": {N:1}}
        {"c": {N:2}, "l": {L:[{S:"x"}]}}
        {"c": {N:2}}
        {"c": {N:-3}, "l": {L:[{S:"x"}]}, "pk": {S:"a"}, "s": {SS:["a", "b"]}, "sk": {N:1}}
        One or more parameter values were invalid: Cannot update attribute sk. This attribute is part of the key
        {"c": {N:-3}}"#]]
    .assert_eq(&out);
}

#[test]
fn update_with_condition_and_delete_with_return_values() {
    let e = table();
    put(&e, r#"{"pk":{"S":"a"},"version":{"N":"1"}}"#).unwrap();
    let bump = |expected: &str| {
        e.db.update_item(UpdateItemInput {
            table_name: "tbl".into(),
            key: j(r#"{"pk":{"S":"a"}}"#),
            update_expression: Some("SET version = version + :one".into()),
            condition_expression: Some("version = :expected".into()),
            expression_attribute_values: vals(&format!(
                r#"{{":one":{{"N":"1"}},":expected":{{"N":"{expected}"}}}}"#
            )),
            ..Default::default()
        })
    };
    bump("1").unwrap();
    assert_eq!(
        bump("1").unwrap_err().code(),
        "ConditionalCheckFailedException"
    );
    bump("2").unwrap();
    let deleted =
        e.db.delete_item(DeleteItemInput {
            table_name: "tbl".into(),
            key: j(r#"{"pk":{"S":"a"}}"#),
            condition_expression: Some("attribute_exists(version)".into()),
            return_values: ReturnValues::AllOld,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        show(&deleted.attributes.unwrap()),
        r#"{"pk": {S:"a"}, "version": {N:3}}"#
    );
    assert_eq!(get(&e, r#"{"pk":{"S":"a"}}"#), None);
    // Deleting a missing item succeeds and returns nothing.
    let again = e.db.delete_item(DeleteItemInput {
        table_name: "tbl".into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        return_values: ReturnValues::AllOld,
        ..Default::default()
    });
    assert_eq!(again.unwrap().attributes, None);
    // UpdateItem on a missing item creates it from its key.
    e.db.update_item(UpdateItemInput {
        table_name: "tbl".into(),
        key: j(r#"{"pk":{"S":"b"}}"#),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        show(&get(&e, r#"{"pk":{"S":"b"}}"#).unwrap()),
        r#"{"pk": {S:"b"}}"#
    );
}

#[test]
fn invalid_values_are_refused_with_dynamodb_messages() {
    let e = table();
    let out = [
        r#"{"pk":{"S":"a"},"s":{"SS":[]}}"#,
        r#"{"pk":{"S":"a"},"s":{"SS":["x","x"]}}"#,
    ]
    .iter()
    .map(|i| put(&e, i).unwrap_err().to_string())
    .collect::<Vec<_>>()
    .join("\n");
    expect![[r#"
        One or more parameter values were invalid: An string set  may not be empty
        One or more parameter values were invalid: Input collection [x, x] contains duplicates."#]]
    .assert_eq(&out);
    assert_eq!(
        dynamodb::AttributeValue::n("1e200")
            .unwrap_err()
            .to_string(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    assert_eq!(
        e.db.put_item(PutItemInput {
            table_name: "missing-table".into(),
            item: j(r#"{"pk":{"S":"a"}}"#),
            ..Default::default()
        })
        .unwrap_err()
        .code(),
        "ResourceNotFoundException"
    );
}
