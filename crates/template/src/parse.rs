//! YAML and JSON text to a [`Node`] tree. JSON goes through the same parser: JSON is YAML 1.2, and
//! one parser gives one set of positions. Plain scalars follow the YAML 1.2 core schema (null,
//! booleans, integers, floats); quoted scalars are strings. Short-form CloudFormation tags become
//! their long forms here.

use crate::diag::Diagnostic;
use crate::node::{Key, Node, NodeKind, Span};
use std::collections::HashMap;
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// How many nodes aliases may copy in one file.
const ALIAS_BUDGET: usize = 1_000_000;

fn count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(entries) => 1 + entries.iter().map(|(_, v)| count(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Short-form tags and the long form each stands for.
const SHORT_FORMS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("Sub", "Fn::Sub"),
    ("GetAtt", "Fn::GetAtt"),
    ("ImportValue", "Fn::ImportValue"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("If", "Fn::If"),
    ("Equals", "Fn::Equals"),
    ("Not", "Fn::Not"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("FindInMap", "Fn::FindInMap"),
    ("Base64", "Fn::Base64"),
    ("GetAZs", "Fn::GetAZs"),
    ("Cidr", "Fn::Cidr"),
    ("Length", "Fn::Length"),
    ("ToJsonString", "Fn::ToJsonString"),
];

/// Parses one template file. On a syntax error the tree is `None` and the error is among the
/// diagnostics; tag and duplicate-key findings come with a tree.
pub fn parse(file: &Arc<str>, text: &str) -> (Option<Node>, Vec<Diagnostic>) {
    let mut builder = Builder {
        file: file.clone(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        alias_budget: ALIAS_BUDGET,
        alias_exhausted: false,
        diags: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let span = builder.span(*e.marker());
        let mut diags = builder.diags;
        diags.push(
            Diagnostic::new("E1001", &span, format!("syntax error: {}", e.info()))
                .help("fix the YAML/JSON syntax; the rest of this file is not checked until then"),
        );
        return (None, diags);
    }
    let root = builder.root.take();
    if root.is_none() {
        let span = Span::new(file.clone(), 1, 1);
        builder
            .diags
            .push(Diagnostic::new("E1001", &span, "the template is empty"));
    }
    (root, builder.diags)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
        tag: Option<&'static str>,
    },
    Map {
        entries: Vec<(Key, Node)>,
        pending: Option<Key>,
        span: Span,
        anchor: usize,
        tag: Option<&'static str>,
    },
}

struct Builder {
    file: Arc<str>,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// How many nodes aliases may still copy: a few nested aliases can otherwise expand to
    /// billions of nodes (the "billion laughs" document).
    alias_budget: usize,
    alias_exhausted: bool,
    diags: Vec<Diagnostic>,
}

impl Builder {
    fn span(&self, m: Marker) -> Span {
        Span::new(self.file.clone(), m.line() as u32, m.col() as u32 + 1)
    }

    /// The long form of a tag, `None` for no tag or a YAML core tag, reporting unknown ones.
    fn long_form(&mut self, tag: &Option<Tag>, span: &Span) -> Option<&'static str> {
        let tag = tag.as_ref()?;
        if tag.handle != "!" {
            return None;
        }
        match SHORT_FORMS.iter().find(|(short, _)| *short == tag.suffix) {
            Some((_, long)) => Some(long),
            None => {
                self.diags.push(
                    Diagnostic::new("E1002", span, format!("unknown tag `!{}`", tag.suffix))
                        .help("CloudFormation short forms are !Ref, !Sub, !GetAtt, !ImportValue, !Join, !Select, !Split, !If, !Equals, !Not, !And, !Or, !FindInMap, !Base64, !GetAZs, !Condition"),
                );
                None
            }
        }
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            let size = count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, pending, ..
            }) => match pending.take() {
                None => {
                    let name = node.scalar_text().unwrap_or_default();
                    *pending = Some(Key {
                        name,
                        span: node.span,
                    });
                }
                Some(key) => {
                    if entries.iter().any(|(k, _)| k.name == key.name) {
                        let d = Diagnostic::new(
                            "E1003",
                            &key.span,
                            format!("duplicate key `{}`", key.name),
                        )
                        .help("CloudFormation rejects a mapping that repeats a key; keep one");
                        self.diags.push(d);
                    } else {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

fn wrap(tag: Option<&'static str>, node: Node) -> Node {
    match tag {
        Some(name) => {
            let span = node.span.clone();
            Node::call(name, node, span)
        }
        None => node,
    }
}

/// The YAML 1.2 core schema for a plain scalar.
fn plain_scalar(s: &str) -> NodeKind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeKind::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return NodeKind::Int(i);
        }
        return NodeKind::Str(s.to_string());
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeKind::Int(i);
        }
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return NodeKind::Int(i);
        }
    }
    if is_float(digits) {
        if let Ok(f) = s.parse::<f64>() {
            return NodeKind::Float(f);
        }
    }
    NodeKind::Str(s.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
        }
    };
    mantissa_ok && exp_ok && (mantissa.contains('.') || exp.is_some())
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let span = self.span(mark);
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let long = self.long_form(&tag, &span);
                let core_str = tag
                    .as_ref()
                    .is_some_and(|t| t.suffix == "str" && t.handle != "!");
                let kind = if style == TScalarStyle::Plain && !core_str && long.is_none() {
                    plain_scalar(&value)
                } else if long.is_some() && style == TScalarStyle::Plain && value.is_empty() {
                    // `!GetAZs ''` and `!GetAZs` alone both mean the current region.
                    NodeKind::Str(String::new())
                } else {
                    NodeKind::Str(value)
                };
                let node = wrap(long, Node::new(kind, span));
                self.push_value(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let tag = self.long_form(&tag, &span);
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    span,
                    anchor,
                    tag,
                });
            }
            Event::MappingStart(anchor, tag) => {
                let tag = self.long_form(&tag, &span);
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending: None,
                    span,
                    anchor,
                    tag,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    span,
                    anchor,
                    tag,
                }) = self.stack.pop()
                {
                    let node = wrap(tag, Node::new(NodeKind::Seq(items), span));
                    self.push_value(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    entries,
                    span,
                    anchor,
                    tag,
                    ..
                }) = self.stack.pop()
                {
                    // A block mapping's start mark falls just after its first key; the key is
                    // where the mapping starts for a reader.
                    let span = match entries.first() {
                        Some((k, _)) if (k.span.line, k.span.column) < (span.line, span.column) => {
                            k.span.clone()
                        }
                        _ => span,
                    };
                    let node = wrap(tag, Node::new(NodeKind::Map(entries), span));
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some((n, size)) if *size <= self.alias_budget => {
                        self.alias_budget -= size;
                        n.clone()
                    }
                    Some(_) => {
                        // Reported once per file; later aliases of any size stay empty.
                        if !self.alias_exhausted {
                            self.diags.push(
                                Diagnostic::new("E1001", &span, "aliases expand to too many nodes")
                                    .help(format!(
                                "a template may copy at most {ALIAS_BUDGET} nodes through aliases"
                            )),
                            );
                            self.alias_exhausted = true;
                            self.alias_budget = 0;
                        }
                        Node::new(NodeKind::Null, span)
                    }
                    None => Node::new(NodeKind::Null, span),
                };
                self.push_value(node, 0);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> String {
        let (node, diags) = parse(&Arc::from("t.yml"), text);
        let mut out = String::new();
        if let Some(n) = node {
            dump(&n, 0, &mut out);
        }
        for d in diags {
            out.push_str(&format!("{d}\n"));
        }
        out
    }

    fn dump(n: &Node, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let pos = format!("{}:{}", n.span.line, n.span.column);
        match &n.kind {
            NodeKind::Map(m) => {
                out.push_str(&format!("{pad}map @{pos}\n"));
                for (k, v) in m {
                    out.push_str(&format!(
                        "{pad}  {} @{}:{}\n",
                        k.name, k.span.line, k.span.column
                    ));
                    dump(v, depth + 2, out);
                }
            }
            NodeKind::Seq(s) => {
                out.push_str(&format!("{pad}seq @{pos}\n"));
                for v in s {
                    dump(v, depth + 1, out);
                }
            }
            k => out.push_str(&format!("{pad}{k:?} @{pos}\n")),
        }
    }

    #[test]
    fn short_forms_positions_and_scalars() {
        let got = check("A: !Ref X\nB: !GetAtt [Q, Arn]\nC: 12\nD: '12'\nE: !Nope x\nA: 1\n");
        expect_test::expect![[r#"
            map @1:1
              A @1:1
                map @1:9
                  Ref @1:9
                    Str("X") @1:9
              B @2:1
                map @2:12
                  Fn::GetAtt @2:12
                    seq @2:12
                      Str("Q") @2:13
                      Str("Arn") @2:16
              C @3:1
                Int(12) @3:4
              D @4:1
                Str("12") @4:4
              E @5:1
                Str("x") @5:10
            t.yml:5:10: error[E1002]: unknown tag `!Nope`; help: CloudFormation short forms are !Ref, !Sub, !GetAtt, !ImportValue, !Join, !Select, !Split, !If, !Equals, !Not, !And, !Or, !FindInMap, !Base64, !GetAZs, !Condition
            t.yml:6:1: error[E1003]: duplicate key `A`; help: CloudFormation rejects a mapping that repeats a key; keep one
        "#]]
        .assert_eq(&got);
    }

    #[test]
    fn json_goes_through_the_same_parser() {
        let got = check("{\n\t\"A\": {\"Ref\": \"X\"},\n  \"B\": [1, 2.5, true, null]\n}\n");
        expect_test::expect![[r#"
            map @1:1
              A @2:2
                map @2:7
                  Ref @2:8
                    Str("X") @2:15
              B @3:3
                seq @3:8
                  Int(1) @3:9
                  Float(2.5) @3:12
                  Bool(true) @3:17
                  Null @3:23
        "#]]
        .assert_eq(&got);
    }

    #[test]
    fn alias_bombs_are_cut_off() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = (b'a' + i - 1) as char;
            let name = (b'a' + i) as char;
            text.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let (node, diags) = parse(&Arc::from("t.yml"), &text);
        assert!(node.is_some());
        let codes: Vec<String> = diags
            .iter()
            .map(|d| format!("{}:{} {}", d.line, d.code, d.message))
            .collect();
        assert_eq!(codes, ["6:E1001 aliases expand to too many nodes"]);
    }

    #[test]
    fn syntax_error_has_a_position() {
        let got = check("A: [1, 2\nB: x\n");
        expect_test::expect![[r#"
            t.yml:2:2: error[E1001]: syntax error: illegal placement of ':' indicator; help: fix the YAML/JSON syntax; the rest of this file is not checked until then
        "#]].assert_eq(&got);
    }
}
