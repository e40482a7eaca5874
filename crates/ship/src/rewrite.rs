//! Where a template points at local files, and rewriting those places in the text itself.
//!
//! [`sites`] finds every local reference packaging must replace: `CodeUri` of a serverless
//! function (and of `Globals.Function`), a string `Code` of a plain Lambda function, and
//! `TemplateURL` of a nested stack. [`apply`] replaces exactly those scalars in the original text,
//! so comments, key order, quoting and short-form tags survive: the packaged template is the
//! author's template with only those values changed. Every rewrite is checked by parsing the
//! result again and reading the new value back at the same place.

use crate::error::ShipError;
use std::sync::Arc;
use template::node::{Node, NodeKind};

/// What a local reference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// `CodeUri` of `AWS::Serverless::Function` or `Globals.Function`: becomes `s3://bucket/key`.
    CodeUri,
    /// A string `Code` of `AWS::Lambda::Function`: becomes `{S3Bucket, S3Key}`.
    Code,
    /// `TemplateURL` of `AWS::CloudFormation::Stack`: becomes an `https://` S3 URL.
    TemplateUrl,
}

/// One local reference in a template.
#[derive(Clone, Debug)]
pub struct Site {
    pub kind: SiteKind,
    /// The logical id of the resource, or `Globals` for `Globals.Function.CodeUri`.
    pub logical_id: String,
    /// The path as written, relative to the template's folder.
    pub path: String,
    /// The resource's `Metadata` (for `BuildMethod`) and its `Architectures`, when written.
    pub build_method: Option<String>,
    pub arm64: bool,
    /// 1-based line and column (in characters) of the scalar.
    pub line: u32,
    pub column: u32,
}

/// The replacement of one site.
#[derive(Clone, Debug)]
pub struct Replacement {
    pub line: u32,
    pub column: u32,
    pub value: Value,
}

/// What a site becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string scalar (`s3://...`, `https://...`).
    Text(String),
    /// The `Code` mapping of a plain Lambda function.
    S3Code { bucket: String, key: String },
}

/// Parses a template, turning a syntax error into a [`ShipError`] that names the file.
pub fn parse(file: &str, text: &str) -> Result<Node, ShipError> {
    let name: Arc<str> = Arc::from(file);
    let (node, diags) = template::parse::parse(&name, text);
    node.ok_or_else(|| ShipError::Template {
        file: file.to_string(),
        message: diags
            .first()
            .map(|d| d.message.clone())
            .unwrap_or_else(|| "not a template".to_string()),
    })
}

/// Whether a location is a local path rather than something already uploaded.
fn is_local(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    !(lower.starts_with("s3://") || lower.starts_with("https://") || lower.starts_with("http://"))
}

/// Every local reference of one parsed template, in source order.
pub fn sites(root: &Node) -> Vec<Site> {
    let mut out = Vec::new();
    let globals = root.lookup("Globals.Function");
    let global_arm64 = globals.is_some_and(|g| is_arm64(g.get("Architectures")));
    if let Some(code) = globals.and_then(|g| g.get("CodeUri")) {
        if let Some(path) = code.as_str().filter(|p| is_local(p)) {
            out.push(Site {
                kind: SiteKind::CodeUri,
                logical_id: "Globals".to_string(),
                path: path.to_string(),
                build_method: None,
                arm64: global_arm64,
                line: code.span.line,
                column: code.span.column,
            });
        }
    }
    let Some(resources) = root.get("Resources").and_then(Node::as_map) else {
        return out;
    };
    for (key, resource) in resources {
        let type_ = resource.get("Type").and_then(Node::as_str).unwrap_or("");
        let (kind, property) = match type_ {
            "AWS::Serverless::Function" => (SiteKind::CodeUri, "CodeUri"),
            "AWS::Lambda::Function" => (SiteKind::Code, "Code"),
            "AWS::CloudFormation::Stack" => (SiteKind::TemplateUrl, "TemplateURL"),
            _ => continue,
        };
        let Some(node) = resource.lookup(&format!("Properties.{property}")) else {
            continue;
        };
        let Some(path) = node.as_str().filter(|p| is_local(p)) else {
            continue;
        };
        let build_method = resource
            .lookup("Metadata.BuildMethod")
            .and_then(Node::as_str)
            .map(str::to_string);
        let arm64 = match resource.lookup("Properties.Architectures") {
            Some(a) => is_arm64(Some(a)),
            None => global_arm64,
        };
        out.push(Site {
            kind,
            logical_id: key.name.clone(),
            path: path.to_string(),
            build_method,
            arm64,
            line: node.span.line,
            column: node.span.column,
        });
    }
    out
}

fn is_arm64(architectures: Option<&Node>) -> bool {
    architectures
        .and_then(Node::as_seq)
        .is_some_and(|a| a.iter().any(|n| n.as_str() == Some("arm64")))
}

/// The text with every replacement applied, checked by parsing it again.
pub fn apply(file: &str, text: &str, replacements: &[Replacement]) -> Result<String, ShipError> {
    let mut edits = Vec::with_capacity(replacements.len());
    for r in replacements {
        let (start, end, quote) =
            scalar_extent(text, r.line, r.column).ok_or_else(|| ShipError::Rewrite {
                file: file.to_string(),
                line: r.line,
                column: r.column,
            })?;
        edits.push((start, end, render(&r.value, quote)));
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len() + 128 * edits.len());
    let mut at = 0;
    for (start, end, new) in edits {
        if start < at {
            return Err(ShipError::Rewrite {
                file: file.to_string(),
                line: 0,
                column: 0,
            });
        }
        out.push_str(&text[at..start]);
        out.push_str(&new);
        at = end;
    }
    out.push_str(&text[at..]);
    check(file, &out, replacements)?;
    Ok(out)
}

/// Reads every replaced value back from the rewritten text: a rewrite that a YAML reader would
/// see differently (a block scalar, a continuation line) is refused rather than shipped.
fn check(file: &str, text: &str, replacements: &[Replacement]) -> Result<(), ShipError> {
    let root = parse(file, text)?;
    let mut found = Vec::new();
    collect_values(&root, &mut found);
    for r in replacements {
        let ok = match &r.value {
            Value::Text(t) => found.iter().any(|n| n.as_str() == Some(t)),
            Value::S3Code { bucket, key } => found.iter().any(|n| {
                n.get("S3Bucket").and_then(Node::as_str) == Some(bucket)
                    && n.get("S3Key").and_then(Node::as_str) == Some(key)
            }),
        };
        if !ok {
            return Err(ShipError::Rewrite {
                file: file.to_string(),
                line: r.line,
                column: r.column,
            });
        }
    }
    Ok(())
}

fn collect_values<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    out.push(node);
    match &node.kind {
        NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| collect_values(v, out)),
        NodeKind::Seq(items) => items.iter().for_each(|v| collect_values(v, out)),
        _ => {}
    }
}

/// A replacement as text, in the quoting style of the scalar it replaces. Flow mappings in JSON
/// syntax are valid YAML too, so one form serves both kinds of template.
fn render(value: &Value, quote: Option<char>) -> String {
    match value {
        Value::Text(t) => match quote {
            Some(q) => format!("{q}{t}{q}"),
            None => t.clone(),
        },
        Value::S3Code { bucket, key } => {
            format!("{{\"S3Bucket\": \"{bucket}\", \"S3Key\": \"{key}\"}}")
        }
    }
}

/// The byte range of the scalar that starts at a 1-based line and character column, and its
/// quote character. Plain scalars end at the line end, at ` #` (a comment) or at a flow
/// indicator; quoted ones at their closing quote.
fn scalar_extent(text: &str, line: u32, column: u32) -> Option<(usize, usize, Option<char>)> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line as usize - 2)?.0 + 1
    };
    let rest = &text[line_start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let (offset, _) = line_text
        .char_indices()
        .nth(column.checked_sub(1)? as usize)?;
    let start = line_start + offset;
    let scalar = &line_text[offset..];
    let first = scalar.chars().next()?;
    match first {
        '"' => {
            let mut escaped = false;
            for (i, c) in scalar.char_indices().skip(1) {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return Some((start, start + i + 1, Some('"'))),
                    _ => escaped = false,
                }
            }
            None
        }
        '\'' => {
            let bytes = scalar.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some((start, start + i + 1, Some('\'')));
                }
                i += 1;
            }
            None
        }
        '|' | '>' => None,
        _ => {
            let mut end = scalar.len();
            if let Some(i) = scalar.find(" #") {
                end = end.min(i);
            }
            if let Some(i) = scalar.find([',', '}', ']']) {
                end = end.min(i);
            }
            let trimmed = scalar[..end].trim_end();
            Some((start, start + trimmed.len(), None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_all(file: &str, text: &str) -> (String, Vec<Site>) {
        let root = parse(file, text).unwrap();
        let sites = sites(&root);
        let replacements: Vec<Replacement> = sites
            .iter()
            .map(|s| Replacement {
                line: s.line,
                column: s.column,
                value: replacement_for(s),
            })
            .collect();
        (apply(file, text, &replacements).unwrap(), sites)
    }

    fn replacement_for(site: &Site) -> Value {
        let key = format!("p/{}.bin", site.logical_id);
        match site.kind {
            SiteKind::CodeUri => Value::Text(format!("s3://b/{key}")),
            SiteKind::Code => Value::S3Code {
                bucket: "b".to_string(),
                key,
            },
            SiteKind::TemplateUrl => {
                Value::Text(format!("https://s3.us-east-1.amazonaws.com/b/{key}"))
            }
        }
    }

    #[test]
    fn keeps_quotes_comments_and_tags() {
        let text = "Resources:\n  A:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: './a.yml' # the child\n      Parameters: {X: !Ref Y}\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: \"fn/\", Handler: bootstrap}\n  L:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: lambda/\n";
        let (out, sites) = rewrite_all("t.yml", text);
        assert_eq!(sites.len(), 3);
        expect_test::expect![[r#"
            Resources:
              A:
                Type: AWS::CloudFormation::Stack
                Properties:
                  TemplateURL: 'https://s3.us-east-1.amazonaws.com/b/p/A.bin' # the child
                  Parameters: {X: !Ref Y}
              F:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: "s3://b/p/F.bin", Handler: bootstrap}
              L:
                Type: AWS::Lambda::Function
                Properties:
                  Code: {"S3Bucket": "b", "S3Key": "p/L.bin"}
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn json_templates_stay_json() {
        let text = "{\"Resources\": {\"A\": {\"Type\": \"AWS::CloudFormation::Stack\",\n  \"Properties\": {\"TemplateURL\": \"child.json\"}}}}\n";
        let (out, _) = rewrite_all("t.json", text);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            parsed["Resources"]["A"]["Properties"]["TemplateURL"],
            "https://s3.us-east-1.amazonaws.com/b/p/A.bin"
        );
    }

    #[test]
    fn uploaded_locations_and_intrinsics_are_not_sites() {
        let text = "Resources:\n  A:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: https://example.com/x.yml\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: !Sub s3://b/${K}\n  G:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: s3://b/k.zip\n";
        assert!(sites(&parse("t.yml", text).unwrap()).is_empty());
    }

    fn rewrite_one(text: &str, new: &str) -> Result<String, ShipError> {
        let root = parse("t.yml", text).unwrap();
        let site = &sites(&root)[0];
        let r = Replacement {
            line: site.line,
            column: site.column,
            value: Value::Text(new.to_string()),
        };
        apply("t.yml", text, &[r])
    }

    #[test]
    fn block_scalars_are_rewritten_on_their_content_line() {
        let text = "Resources:\n  A:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: >-\n        ./a.yml\n";
        let out = rewrite_one(text, "https://x/a").unwrap();
        let root = parse("t.yml", &out).unwrap();
        let url = root.lookup("Resources.A.Properties.TemplateURL").unwrap();
        assert_eq!(url.as_str(), Some("https://x/a"));
    }

    #[test]
    fn multi_line_plain_scalars_are_refused_not_mangled() {
        let text = "Resources:\n  A:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: ./a\n        .yml\n";
        assert!(matches!(
            rewrite_one(text, "https://x/a"),
            Err(ShipError::Rewrite { line: 5, .. })
        ));
    }
}
