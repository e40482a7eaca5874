//! The lexer and recursive-descent parser shared by every expression kind.
//!
//! Grammar (keywords in any case):
//!
//! ```text
//! condition  := and ( OR and )*
//! and        := not ( AND not )*
//! not        := NOT not | '(' condition ')' | function | operand comparison
//! comparison := cmp operand | BETWEEN operand AND operand | IN '(' operand ( ',' operand )* ')'
//! operand    := path | :value | size '(' path ')'
//! path       := name ( '.' name | '[' digits ']' )*      name := identifier | #placeholder
//! projection := path ( ',' path )*
//! update     := ( SET set ( ',' set )* | REMOVE path ( ',' path )*
//!               | ADD path :value ( ',' ... )* | DELETE path :value ( ',' ... )* )+
//! set        := path '=' uoperand ( ( '+' | '-' ) uoperand )?
//! uoperand   := path | :value | if_not_exists '(' path ',' uoperand ')'
//!               | list_append '(' uoperand ',' uoperand ')'
//! ```
//!
//! Placeholders are substituted while parsing, so errors about undefined ones come out in text order.

use super::{
    check_overlaps, is_reserved, CmpOp, Condition, ExprKind, Operand, Path, PathElem, Placeholders,
    SetValue, Update, UpdateOperand,
};
use crate::error::Error;
use crate::value::AttributeValue;

/// The most operands DynamoDB takes in one IN list.
const MAX_IN_OPERANDS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Name(String),
    Value(String),
    Int(String),
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn lex(kind: ExprKind, text: &str) -> Result<Vec<Token>, Error> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let word = |from: usize| {
        let mut j = from;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        j
    };
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            i = word(i);
            Tok::Ident(text[start..i].to_string())
        } else if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            Tok::Int(text[start..i].to_string())
        } else if c == b'#' || c == b':' {
            i = word(i + 1);
            if i == start + 1 {
                return Err(syntax_error_at(
                    kind,
                    text,
                    &text[start..start + 1],
                    start,
                    start + 1,
                ));
            }
            let s = text[start..i].to_string();
            if c == b'#' {
                Tok::Name(s)
            } else {
                Tok::Value(s)
            }
        } else {
            let two = text.get(i..i + 2).unwrap_or("");
            let sym = match two {
                "<>" => Some("<>"),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                i += 2;
                Tok::Sym(s)
            } else {
                let s = match c {
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    b'(' => "(",
                    b')' => ")",
                    b'[' => "[",
                    b']' => "]",
                    b',' => ",",
                    b'.' => ".",
                    b'+' => "+",
                    b'-' => "-",
                    _ => {
                        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                        let bad = &text[i..i + ch_len];
                        return Err(syntax_error_at(kind, text, bad, i, i + ch_len));
                    }
                };
                i += 1;
                Tok::Sym(s)
            }
        };
        tokens.push(Token { tok, start, end: i });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: text.len(),
        end: text.len(),
    });
    Ok(tokens)
}

fn syntax_error_at(kind: ExprKind, text: &str, token: &str, start: usize, end: usize) -> Error {
    let near_start = text[..start]
        .trim_end()
        .rfind(char::is_whitespace)
        .map_or(0, |p| p + 1);
    let near_end = text[end..]
        .find(char::is_whitespace)
        .map_or(text.len(), |p| end + p);
    kind.error(format!(
        "Syntax error; token: \"{token}\", near: \"{}\"",
        &text[near_start..near_end]
    ))
}

struct Parser<'t, 'p, 'a> {
    kind: ExprKind,
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    placeholders: &'p mut Placeholders<'a>,
}

fn keyword(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
}

impl<'t, 'p, 'a> Parser<'t, 'p, 'a> {
    fn new(
        kind: ExprKind,
        text: &'t str,
        placeholders: &'p mut Placeholders<'a>,
    ) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Err(kind.error("The expression can not be empty;"));
        }
        let tokens = lex(kind, text)?;
        Ok(Parser {
            kind,
            text,
            tokens,
            pos: 0,
            placeholders,
        })
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    /// DynamoDB's syntax error at the current token, with the text around it.
    fn syntax_error(&self) -> Error {
        let t = &self.tokens[self.pos];
        let token = if t.tok == Tok::Eof {
            "<EOF>"
        } else {
            &self.text[t.start..t.end]
        };
        let from = if self.pos > 0 {
            self.tokens[self.pos - 1].start
        } else {
            t.start
        };
        let to = if self.pos + 1 < self.tokens.len() {
            self.tokens[self.pos + 1].end
        } else {
            t.end
        };
        self.kind.error(format!(
            "Syntax error; token: \"{token}\", near: \"{}\"",
            &self.text[from..to]
        ))
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), Error> {
        if *self.peek() == Tok::Sym(match_sym(sym)) {
            self.bump();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if *self.peek() == Tok::Sym(match_sym(sym)) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if keyword(self.peek(), word) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_end(&mut self) -> Result<(), Error> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    // ---- paths and operands ----

    fn path_name(&mut self) -> Result<String, Error> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                if is_reserved(&name) {
                    return Err(self.kind.error(format!(
                        "Attribute name is a reserved keyword; reserved keyword: {name}"
                    )));
                }
                self.bump();
                Ok(name)
            }
            Tok::Name(key) => {
                self.bump();
                self.placeholders.name(self.kind, &key)
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn path(&mut self) -> Result<Path, Error> {
        let mut elems = vec![PathElem::Attr(self.path_name()?)];
        loop {
            if self.eat_sym(".") {
                elems.push(PathElem::Attr(self.path_name()?));
            } else if self.eat_sym("[") {
                let index = match self.peek().clone() {
                    Tok::Int(digits) => digits.parse::<u32>().map_err(|_| self.syntax_error())?,
                    _ => return Err(self.syntax_error()),
                };
                self.bump();
                self.expect_sym("]")?;
                elems.push(PathElem::Index(index));
            } else {
                return Ok(Path(elems));
            }
        }
    }

    fn value(&mut self) -> Result<AttributeValue, Error> {
        match self.peek().clone() {
            Tok::Value(key) => {
                self.bump();
                self.placeholders.value(self.kind, &key)
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// Whether the current token starts a function call.
    fn at_function(&self) -> Option<String> {
        match (self.peek(), self.peek_at(1)) {
            (Tok::Ident(name), Tok::Sym("(")) => Some(name.clone()),
            _ => None,
        }
    }

    fn operand(&mut self) -> Result<Operand, Error> {
        if let Some(name) = self.at_function() {
            if name == "size" {
                self.bump();
                self.bump();
                let path = self.path()?;
                self.expect_sym(")")?;
                return Ok(Operand::Size(path));
            }
            return Err(self.function_misuse(&name));
        }
        match self.peek() {
            Tok::Value(_) => Ok(Operand::Value(self.value()?)),
            Tok::Ident(_) | Tok::Name(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    /// The error for a function name found where it cannot be used.
    fn function_misuse(&self, name: &str) -> Error {
        let message = match name {
            "attribute_exists" | "attribute_not_exists" | "attribute_type" | "begins_with"
            | "contains" | "size" => match self.kind {
                ExprKind::Update => {
                    format!("The function is not allowed in an update expression; function: {name}")
                }
                _ => format!(
                    "The function is not allowed to be used this way in an expression; function: {name}"
                ),
            },
            "if_not_exists" | "list_append" => match self.kind {
                ExprKind::Update => format!(
                    "The function is not allowed to be used this way in an expression; function: {name}"
                ),
                _ => format!(
                    "The function is not allowed in a {} expression; function: {name}",
                    if self.kind == ExprKind::KeyCondition { "key condition" } else { "condition" }
                ),
            },
            _ => format!("Invalid function name; function: {name}"),
        };
        self.kind.error(message)
    }

    // ---- conditions ----

    fn condition(&mut self) -> Result<Condition, Error> {
        let mut left = self.and_condition()?;
        while self.eat_keyword("OR") {
            let right = self.and_condition()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_condition(&mut self) -> Result<Condition, Error> {
        let mut left = self.not_condition()?;
        while self.eat_keyword("AND") {
            let right = self.not_condition()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_condition(&mut self) -> Result<Condition, Error> {
        // `NOT` is a keyword only when something follows that is not an operator.
        if keyword(self.peek(), "NOT") && !matches!(self.peek_at(1), Tok::Sym(s) if *s != "(") {
            self.bump();
            return Ok(Condition::Not(Box::new(self.not_condition()?)));
        }
        if self.eat_sym("(") {
            let inner = self.condition()?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        if let Some(name) = self.at_function() {
            if name != "size" {
                return self.condition_function(&name);
            }
        }
        let left = self.operand()?;
        self.comparison(left)
    }

    fn comparison(&mut self, left: Operand) -> Result<Condition, Error> {
        let op = match self.peek() {
            Tok::Sym("=") => Some(CmpOp::Eq),
            Tok::Sym("<>") => Some(CmpOp::Ne),
            Tok::Sym("<") => Some(CmpOp::Lt),
            Tok::Sym("<=") => Some(CmpOp::Le),
            Tok::Sym(">") => Some(CmpOp::Gt),
            Tok::Sym(">=") => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let right = self.operand()?;
            return Ok(Condition::Compare(op, left, right));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.operand()?;
            if !self.eat_keyword("AND") {
                return Err(self.syntax_error());
            }
            let high = self.operand()?;
            if let (Operand::Value(l), Operand::Value(h)) = (&low, &high) {
                if crate::expr::eval::compare(l, h) == Some(std::cmp::Ordering::Greater) {
                    return Err(self.kind.error(format!(
                        "The BETWEEN operator requires upper bound to be greater than or equal to \
                         lower bound; lower bound operand: AttributeValue: {l:?}, upper bound \
                         operand: AttributeValue: {h:?}"
                    )));
                }
            }
            return Ok(Condition::Between(left, low, high));
        }
        if self.eat_keyword("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_sym(",") {
                list.push(self.operand()?);
            }
            self.expect_sym(")")?;
            if list.len() > MAX_IN_OPERANDS {
                return Err(self.kind.error(format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    list.len()
                )));
            }
            return Ok(Condition::In(left, list));
        }
        Err(self.syntax_error())
    }

    fn condition_function(&mut self, name: &str) -> Result<Condition, Error> {
        let arity = match name {
            "attribute_exists" | "attribute_not_exists" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            _ => return Err(self.function_misuse(name)),
        };
        self.bump();
        self.bump();
        let mut args = vec![self.operand()?];
        while self.eat_sym(",") {
            args.push(self.operand()?);
        }
        self.expect_sym(")")?;
        if args.len() != arity {
            return Err(self.kind.error(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                args.len()
            )));
        }
        let mut args = args.into_iter();
        let first = args.next().unwrap_or(Operand::Value(AttributeValue::Null));
        let second = args.next();
        let path_arg = |op: Operand, parser: &Self| match op {
            Operand::Path(p) => Ok(p),
            other => Err(parser.operand_type_error(name, &other)),
        };
        Ok(match (name, second) {
            ("attribute_exists", _) => Condition::AttributeExists(path_arg(first, self)?),
            ("attribute_not_exists", _) => Condition::AttributeNotExists(path_arg(first, self)?),
            ("attribute_type", Some(t)) => {
                if let Operand::Value(v) = &t {
                    check_type_name(self.kind, v)?;
                } else {
                    return Err(self.operand_type_error(name, &t));
                }
                Condition::AttributeType(path_arg(first, self)?, t)
            }
            ("begins_with", Some(prefix)) => {
                for op in [&first, &prefix] {
                    if let Operand::Value(v) = op {
                        if !matches!(v, AttributeValue::S(_) | AttributeValue::B(_)) {
                            return Err(self.operand_type_error(name, op));
                        }
                    }
                }
                Condition::BeginsWith(first, prefix)
            }
            (_, Some(needle)) => Condition::Contains(first, needle),
            _ => return Err(self.syntax_error()),
        })
    }

    fn operand_type_error(&self, function: &str, operand: &Operand) -> Error {
        let ty = match operand {
            Operand::Value(v) => v.type_name(),
            Operand::Size(_) => "N",
            Operand::Path(_) => "PATH",
        };
        self.kind.error(format!(
            "Incorrect operand type for operator or function; operator or function: {function}, operand type: {ty}"
        ))
    }

    // ---- updates ----

    fn update(&mut self) -> Result<Update, Error> {
        let mut update = Update::default();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let section = match self.peek() {
                Tok::Ident(word) => word.to_ascii_uppercase(),
                Tok::Eof if !seen.is_empty() => break,
                _ => return Err(self.syntax_error()),
            };
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&section.as_str()) {
                return Err(self.syntax_error());
            }
            if seen.contains(&section) {
                return Err(self.kind.error(format!(
                    "The \"{section}\" section can only be used once in an update expression;"
                )));
            }
            self.bump();
            seen.push(section.clone());
            loop {
                match section.as_str() {
                    "SET" => {
                        let path = self.path()?;
                        self.expect_sym("=")?;
                        let value = self.set_value()?;
                        update.set.push((path, value));
                    }
                    "REMOVE" => update.remove.push(self.path()?),
                    _ => {
                        let path = self.path()?;
                        let value = self.value()?;
                        let allowed = if section == "ADD" {
                            matches!(
                                value,
                                AttributeValue::N(_)
                                    | AttributeValue::Ss(_)
                                    | AttributeValue::Ns(_)
                                    | AttributeValue::Bs(_)
                            )
                        } else {
                            matches!(
                                value,
                                AttributeValue::Ss(_)
                                    | AttributeValue::Ns(_)
                                    | AttributeValue::Bs(_)
                            )
                        };
                        if !allowed {
                            return Err(self.kind.error(format!(
                                "Incorrect operand type for operator or function; operator: {section}, operand type: {}",
                                long_type_name(&value)
                            )));
                        }
                        if section == "ADD" {
                            update.add.push((path, value));
                        } else {
                            update.delete.push((path, value));
                        }
                    }
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        check_overlaps(self.kind, &update.target_paths())?;
        Ok(update)
    }

    fn set_value(&mut self) -> Result<SetValue, Error> {
        let left = self.update_operand()?;
        if self.eat_sym("+") {
            let right = self.update_operand()?;
            self.check_arithmetic("+", &left, &right)?;
            return Ok(SetValue::Plus(left, right));
        }
        if self.eat_sym("-") {
            let right = self.update_operand()?;
            self.check_arithmetic("-", &left, &right)?;
            return Ok(SetValue::Minus(left, right));
        }
        Ok(SetValue::Operand(left))
    }

    fn check_arithmetic(
        &self,
        op: &str,
        a: &UpdateOperand,
        b: &UpdateOperand,
    ) -> Result<(), Error> {
        for operand in [a, b] {
            if let UpdateOperand::Value(v) = operand {
                if !matches!(v, AttributeValue::N(_)) {
                    return Err(self.kind.error(format!(
                        "Incorrect operand type for operator or function; operator or function: {op}, operand type: {}",
                        v.type_name()
                    )));
                }
            }
        }
        Ok(())
    }

    fn update_operand(&mut self) -> Result<UpdateOperand, Error> {
        if let Some(name) = self.at_function() {
            match name.as_str() {
                "if_not_exists" => {
                    self.bump();
                    self.bump();
                    let path = self.path()?;
                    self.expect_sym(",")?;
                    let fallback = self.update_operand()?;
                    self.expect_sym(")")?;
                    return Ok(UpdateOperand::IfNotExists(path, Box::new(fallback)));
                }
                "list_append" => {
                    self.bump();
                    self.bump();
                    let a = self.update_operand()?;
                    self.expect_sym(",")?;
                    let b = self.update_operand()?;
                    self.expect_sym(")")?;
                    for operand in [&a, &b] {
                        if let UpdateOperand::Value(v) = operand {
                            if !matches!(v, AttributeValue::L(_)) {
                                return Err(self.kind.error(format!(
                                    "Incorrect operand type for operator or function; operator or function: list_append, operand type: {}",
                                    v.type_name()
                                )));
                            }
                        }
                    }
                    return Ok(UpdateOperand::ListAppend(Box::new(a), Box::new(b)));
                }
                _ => return Err(self.function_misuse(&name)),
            }
        }
        match self.peek() {
            Tok::Value(_) => Ok(UpdateOperand::Value(self.value()?)),
            Tok::Ident(_) | Tok::Name(_) => Ok(UpdateOperand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }
}

/// `Tok::Sym` holds `&'static str`; this maps a borrowed symbol to the static one.
fn match_sym(sym: &str) -> &'static str {
    match sym {
        "=" => "=",
        "(" => "(",
        ")" => ")",
        "[" => "[",
        "]" => "]",
        "," => ",",
        "." => ".",
        "+" => "+",
        "-" => "-",
        _ => "",
    }
}

/// The type names DynamoDB uses in ADD/DELETE operand messages.
fn long_type_name(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Bool(_) => "BOOLEAN",
        AttributeValue::Null => "NULL",
        AttributeValue::M(_) => "MAP",
        AttributeValue::L(_) => "LIST",
        AttributeValue::Ss(_) => "STRING_SET",
        AttributeValue::Ns(_) => "NUMBER_SET",
        AttributeValue::Bs(_) => "BINARY_SET",
    }
}

fn check_type_name(kind: ExprKind, v: &AttributeValue) -> Result<(), Error> {
    const TYPES: [&str; 10] = ["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];
    match v {
        AttributeValue::S(s) if TYPES.contains(&s.as_str()) => Ok(()),
        AttributeValue::S(s) => Err(kind.error(format!(
            "Invalid attribute type name found in type: {s}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
        ))),
        other => Err(kind.error(format!(
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
            other.type_name()
        ))),
    }
}

/// Parses a ConditionExpression, FilterExpression or KeyConditionExpression.
pub fn parse_condition(
    kind: ExprKind,
    text: &str,
    placeholders: &mut Placeholders<'_>,
) -> Result<Condition, Error> {
    let mut parser = Parser::new(kind, text, placeholders)?;
    let condition = parser.condition()?;
    parser.expect_end()?;
    Ok(condition)
}

/// Parses a ProjectionExpression into its paths.
pub fn parse_projection(
    text: &str,
    placeholders: &mut Placeholders<'_>,
) -> Result<Vec<Path>, Error> {
    let kind = ExprKind::Projection;
    let mut parser = Parser::new(kind, text, placeholders)?;
    let mut paths = vec![parser.path()?];
    while parser.eat_sym(",") {
        paths.push(parser.path()?);
    }
    parser.expect_end()?;
    check_overlaps(kind, &paths.iter().collect::<Vec<_>>())?;
    Ok(paths)
}

/// Parses an UpdateExpression.
pub fn parse_update(text: &str, placeholders: &mut Placeholders<'_>) -> Result<Update, Error> {
    let mut parser = Parser::new(ExprKind::Update, text, placeholders)?;
    parser.update()
}
