//! What CloudFormation says while it works, as plain data: stack events, their statuses, the
//! first failure of a run, the progress lines and the change-set table. No network here, so
//! every rule is tested on recorded sequences.

use std::fmt::Write as _;

/// One stack event, as DescribeStackEvents returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    /// RFC 3339, as AWS gives it.
    pub timestamp: String,
    pub logical_id: String,
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub physical_id: Option<String>,
}

/// A stack status no operation will change any more.
pub fn is_final(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// A final status that means the deploy did what it was asked.
pub fn is_deployed(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

/// The event that explains a failed run: the earliest resource failure in time. Later failures
/// are mostly consequences ("Resource creation cancelled" on the siblings of the one that
/// failed), so they come only when nothing else failed. `events` is oldest first; the stack's
/// own events (logical id = `stack`) are skipped, since they only summarise.
pub fn first_failure<'a>(events: &'a [Event], stack: &str) -> Option<&'a Event> {
    let failed = || {
        events
            .iter()
            .filter(|e| e.status.ends_with("_FAILED") && e.logical_id != stack)
    };
    failed()
        .find(|e| !e.reason.as_deref().is_some_and(is_cancellation))
        .or_else(|| failed().next())
}

fn is_cancellation(reason: &str) -> bool {
    reason.contains("cancelled")
}

/// The time of day of an RFC 3339 timestamp (`12:04:05`), or the whole text if it is not one.
fn time_of_day(timestamp: &str) -> &str {
    timestamp
        .split_once('T')
        .map(|(_, t)| t.get(..8).unwrap_or(t))
        .unwrap_or(timestamp)
}

/// One progress line per event, aligned in columns.
pub fn progress_line(e: &Event) -> String {
    let mut line = format!(
        "{:<8}  {:<28}  {:<32}  {}",
        time_of_day(&e.timestamp),
        e.status,
        e.type_,
        e.logical_id
    );
    if let Some(reason) = e.reason.as_deref().filter(|r| !r.is_empty()) {
        let _ = write!(line, "  {reason}");
    }
    line
}

/// One row of a change set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRow {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    pub logical_id: String,
    pub type_: String,
    /// `True`, `False`, `Conditional`, or empty when it does not apply.
    pub replacement: String,
}

/// The change set as a table, `sam deploy` style.
pub fn change_table(rows: &[ChangeRow]) -> String {
    let headers = [
        "Operation",
        "LogicalResourceId",
        "ResourceType",
        "Replacement",
    ];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            let sign = match r.action.as_str() {
                "Add" => "+",
                "Remove" => "-",
                "Modify" => "*",
                _ => " ",
            };
            [
                format!("{sign} {}", r.action),
                r.logical_id.clone(),
                r.type_.clone(),
                if r.replacement.is_empty() {
                    "N/A".to_string()
                } else {
                    r.replacement.clone()
                },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: [&str; 4]| {
        let text = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, headers);
    line(
        &mut out,
        widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str),
    );
    for row in &cells {
        line(&mut out, row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    /// Events from a compact spec: `logical type status [reason]`, oldest first.
    fn events(spec: &str) -> Vec<Event> {
        spec.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                let mut parts = l.trim().splitn(4, ' ');
                let mut next = || parts.next().unwrap_or("").to_string();
                let (logical_id, type_, status, reason) = (next(), next(), next(), next());
                Event {
                    id: format!("e{i}"),
                    timestamp: format!("2026-01-01T00:00:{i:02}.000Z"),
                    logical_id,
                    type_,
                    status,
                    reason: (!reason.is_empty()).then_some(reason),
                    physical_id: None,
                }
            })
            .collect()
    }

    fn check_first_failure(spec: &str, expected: Option<&str>) {
        let evs = events(spec);
        let got = first_failure(&evs, "app").map(|e| format!("{} {}", e.logical_id, e.status));
        assert_eq!(got.as_deref(), expected);
    }

    #[test]
    fn the_first_real_failure_explains_the_rollback() {
        check_first_failure(
            "app AWS::CloudFormation::Stack CREATE_IN_PROGRESS User Initiated
             Queue AWS::SQS::Queue CREATE_IN_PROGRESS
             Table AWS::DynamoDB::Table CREATE_IN_PROGRESS
             Table AWS::DynamoDB::Table CREATE_FAILED Resource creation cancelled
             Queue AWS::SQS::Queue CREATE_FAILED queue name already exists
             app AWS::CloudFormation::Stack ROLLBACK_IN_PROGRESS The following resource(s) failed to create: [Queue, Table]
             app AWS::CloudFormation::Stack ROLLBACK_COMPLETE",
            Some("Queue CREATE_FAILED"),
        );
    }

    #[test]
    fn only_cancellations_still_name_one() {
        check_first_failure(
            "T AWS::DynamoDB::Table CREATE_FAILED Resource creation cancelled",
            Some("T CREATE_FAILED"),
        );
    }

    #[test]
    fn success_has_no_failure_and_stack_summaries_do_not_count() {
        check_first_failure(
            "app AWS::CloudFormation::Stack UPDATE_FAILED summary
             Queue AWS::SQS::Queue UPDATE_COMPLETE",
            None,
        );
    }

    #[test]
    fn statuses() {
        assert!(is_final("ROLLBACK_COMPLETE") && !is_deployed("ROLLBACK_COMPLETE"));
        assert!(is_final("UPDATE_COMPLETE") && is_deployed("UPDATE_COMPLETE"));
        assert!(!is_final("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(!is_final("REVIEW_IN_PROGRESS"));
    }

    #[test]
    fn progress_and_change_table() {
        let evs = events("Queue AWS::SQS::Queue CREATE_FAILED queue name already exists");
        expect![[r#"00:00:00  CREATE_FAILED                 AWS::SQS::Queue                   Queue  queue name already exists"#]]
            .assert_eq(&progress_line(&evs[0]));
        let rows = [
            ChangeRow {
                action: "Add".into(),
                logical_id: "Queues".into(),
                type_: "AWS::CloudFormation::Stack".into(),
                replacement: String::new(),
            },
            ChangeRow {
                action: "Modify".into(),
                logical_id: "Table".into(),
                type_: "AWS::DynamoDB::Table".into(),
                replacement: "True".into(),
            },
        ];
        expect![[r#"
            Operation  LogicalResourceId  ResourceType                Replacement
            ---------  -----------------  --------------------------  -----------
            + Add      Queues             AWS::CloudFormation::Stack  N/A
            * Modify   Table              AWS::DynamoDB::Table        True
        "#]]
        .assert_eq(&change_table(&rows));
    }
}
