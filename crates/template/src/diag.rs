//! Diagnostics: every finding of a run, collected rather than returned as the first error.
//!
//! Codes are stable and read `<severity letter><area digit><three digits>`. The letter is the
//! default severity (`E` error, `W` warning); `--strict` turns warnings into failures without
//! changing their code. The first digit names the area:
//!
//! | area | codes |
//! | --- | --- |
//! | 1 syntax and template structure | E1001 YAML/JSON syntax (or aliases expanding past one million nodes), E1002 unknown short-form tag, E1003 duplicate mapping key, E1004 nested template missing, E1005 TemplateURL remote or outside the project, E1006 malformed section or resource, W1001 unknown top-level section |
//! | 2 intrinsics and references | E2001 unknown intrinsic, E2002 wrong argument shape, E2003 Ref names nothing (or a resource whose condition is false), E2004 GetAtt names nothing (or such a resource), E2005 GetAtt attribute the type does not have, E2006 Sub variable names nothing, E2007 FindInMap key missing, E2008 Condition names nothing, E2009 Select index out of range |
//! | 3 parameters | E3001 no value, E3002 not in AllowedValues, E3003 AllowedPattern mismatch, E3004 length or value bounds, E3005 value for an undeclared parameter |
//! | 4 stacks, exports and the graph | E4001 DependsOn names nothing, E4002 dependency cycle (of resources, conditions or nested templates), E4003 duplicate export name, E4004 import nothing exports, E4005 import with no dependency path to its exporter, E4006 physical name used twice |
//! | 5 service rules | E5001 schedule expression, E5002 SQS function Timeout above queue VisibilityTimeout, E5003 maxReceiveCount below 1, E5004 key schema, E5005 queue name, E5006 table name, E5007 SAM event or property shape, W5001 environment variable names no table or queue, W5002 CodeUri path missing, W5003 resource types the local cloud does not run, W5004 unknown SAM policy template, W5005 table properties the local cloud does not apply (secondary indexes, time to live) |

use crate::node::Span;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding. `file` is relative to the root template's folder with `/` separators; `line` and
/// `column` are 1-based; `path` is the property path such as
/// `Resources.BranchCollector.Properties.Timeout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub logical_id: Option<String>,
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, span: &Span, message: impl Into<String>) -> Diagnostic {
        let severity = if code.starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        };
        Diagnostic {
            severity,
            code,
            file: span.file.to_string(),
            line: span.line,
            column: span.column,
            logical_id: None,
            path: String::new(),
            message: message.into(),
            help: None,
        }
    }

    pub fn at(mut self, logical_id: Option<&str>, path: impl Into<String>) -> Diagnostic {
        self.logical_id = logical_id.map(str::to_string);
        self.path = path.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// One line, `file:line:col: severity[code]: message`, for logs and test expectations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}",
            self.file,
            self.line,
            self.column,
            self.severity.as_str(),
            self.code,
            self.message
        )?;
        if !self.path.is_empty() {
            write!(f, " (at {})", self.path)?;
        }
        if let Some(help) = &self.help {
            write!(f, "; help: {help}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line and column so every run prints them in the same order.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.code, &b.message))
    });
}
