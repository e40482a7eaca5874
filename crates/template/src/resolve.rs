//! Resolution of a whole project for one environment: templates are read through the loader,
//! nested stacks instantiated with their parameters, conditions evaluated and every intrinsic
//! turned into a value.
//!
//! Evaluation is on demand: a `Ref` or `Fn::GetAtt` computes the target's physical name (and, for
//! a nested stack, resolves the child) the first time it is asked for, so resources may be written
//! in any order. A target already being computed is a cycle; it yields no value here and the
//! graph reports the cycle with its path.
//!
//! `Fn::ImportValue` can name an export of a stack resolved later. Resolution therefore runs in
//! passes: each pass starts from the exports the previous one found, and the project is final
//! when a pass misses no import or finds no new export. Only the final pass's diagnostics count.

use crate::diag::Diagnostic;
use crate::loader::{join_relative, LoadError, Loader};
use crate::model::{self, ParamDecl, RawResource, Template};
use crate::node::{Node, NodeKind, Span};
use crate::project::{Export, ImportUse, Options, Output, Resource, Stack, StackId};
use crate::types::{self, Env};
use crate::{parse, sam};
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Templates read so far, by path, with the findings of reading them (reported once per file).
pub(crate) struct Engine<'a> {
    loader: &'a dyn Loader,
    opts: &'a Options,
    pub(crate) env: Env,
    cache: HashMap<String, Result<Arc<Template>, LoadError>>,
    pub(crate) static_diags: Vec<Diagnostic>,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(loader: &'a dyn Loader, opts: &'a Options) -> Self {
        let env = Env {
            account: opts.account.clone(),
            region: opts.region.clone(),
        };
        Engine {
            loader,
            opts,
            env,
            cache: HashMap::new(),
            static_diags: Vec::new(),
        }
    }

    /// The template at `path`, read, parsed, modelled and transformed once.
    fn template(&mut self, path: &str) -> Result<Arc<Template>, &LoadError> {
        if !self.cache.contains_key(path) {
            let loaded = self.loader.read(path).map(|text| {
                let file: Arc<str> = Arc::from(path);
                let (root, mut diags) = parse::parse(&file, &text);
                let mut t = match root {
                    Some(root) => {
                        let (t, d) = model::build(&file, &root);
                        diags.extend(d);
                        t
                    }
                    None => {
                        model::build(
                            &file,
                            &Node::new(NodeKind::Map(vec![]), Span::new(file.clone(), 1, 1)),
                        )
                        .0
                    }
                };
                diags.extend(sam::transform(&mut t));
                self.static_diags.extend(diags);
                Arc::new(t)
            });
            self.cache.insert(path.to_string(), loaded);
        }
        self.cache[path].as_ref().map(Arc::clone)
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.loader.exists(path)
    }
}

#[derive(Clone)]
enum Lazy<T> {
    Running,
    Done(T),
}

#[derive(Clone)]
pub(crate) struct Attrs {
    name: String,
    reference: Value,
    attributes: IndexMap<String, Value>,
}

struct StackState {
    name: String,
    logical_path: Vec<String>,
    parent: Option<(StackId, String)>,
    file: String,
    tmpl: Option<Arc<Template>>,
    params: IndexMap<String, Value>,
    conds: HashMap<String, Lazy<bool>>,
    attrs: HashMap<String, Lazy<Option<Attrs>>>,
    children: IndexMap<String, StackId>,
    resources: IndexMap<String, Resource>,
    outputs: IndexMap<String, Output>,
    done: bool,
}

/// Where a value is being evaluated, for diagnostics.
struct Ctx {
    logical_id: Option<String>,
    path: String,
}

impl Ctx {
    fn new(logical_id: Option<&str>, path: impl Into<String>) -> Ctx {
        Ctx {
            logical_id: logical_id.map(str::to_string),
            path: path.into(),
        }
    }
}

/// One resolution pass.
pub(crate) struct Pass<'e, 'a> {
    eng: &'e mut Engine<'a>,
    known_exports: &'e IndexMap<String, Export>,
    stacks: Vec<StackState>,
    pub(crate) exports: IndexMap<String, Export>,
    pub(crate) import_misses: usize,
    pub(crate) imports: Vec<ImportUse>,
    pub(crate) diags: Vec<Diagnostic>,
}

pub(crate) struct PassResult {
    pub stacks: Vec<Stack>,
    pub exports: IndexMap<String, Export>,
    pub import_misses: usize,
    pub imports: Vec<ImportUse>,
    pub diags: Vec<Diagnostic>,
}

/// Runs one pass over the project rooted at `root`.
pub(crate) fn run_pass(
    eng: &mut Engine<'_>,
    root: &str,
    known: &IndexMap<String, Export>,
) -> PassResult {
    let mut pass = Pass {
        eng,
        known_exports: known,
        stacks: Vec::new(),
        exports: IndexMap::new(),
        import_misses: 0,
        imports: Vec::new(),
        diags: Vec::new(),
    };
    let root_span = Span::new(Arc::from(root), 1, 1);
    let tmpl = match pass.eng.template(root) {
        Ok(t) => Some(t),
        Err(e) => {
            pass.diags.push(Diagnostic::new(
                "E1004",
                &root_span,
                format!("cannot read the root template: {e}"),
            ));
            None
        }
    };
    let name = pass.eng.opts.stack_name.clone();
    let given: IndexMap<String, (Value, Option<Span>)> = pass
        .eng
        .opts
        .params
        .iter()
        .map(|(k, v)| (k.clone(), (json!(v), None)))
        .collect();
    if let Some(t) = &tmpl {
        for k in given.keys() {
            if !t.parameters.contains_key(k) {
                let declared: Vec<&str> = t.parameters.keys().map(String::as_str).collect();
                pass.diags.push(
                    Diagnostic::new(
                        "E3005",
                        &root_span,
                        format!("`--param {k}` names no parameter of the root template"),
                    )
                    .help(format!(
                        "declared parameters: {}",
                        if declared.is_empty() {
                            "none".to_string()
                        } else {
                            declared.join(", ")
                        }
                    )),
                );
            }
        }
    }
    let sid = pass.new_stack(
        name,
        Vec::new(),
        None,
        root.to_string(),
        tmpl,
        given,
        "--param",
    );
    pass.resolve_stack(sid);
    let stacks = pass
        .stacks
        .into_iter()
        .enumerate()
        .map(|(id, s)| finish(id, s))
        .collect();
    PassResult {
        stacks,
        exports: pass.exports,
        import_misses: pass.import_misses,
        imports: pass.imports,
        diags: pass.diags,
    }
}

fn finish(id: StackId, s: StackState) -> Stack {
    let conditions = match &s.tmpl {
        Some(t) => t
            .conditions
            .keys()
            .filter_map(|k| match s.conds.get(k) {
                Some(Lazy::Done(b)) => Some((k.clone(), *b)),
                _ => None,
            })
            .collect(),
        None => IndexMap::new(),
    };
    Stack {
        id,
        name: s.name,
        logical_path: s.logical_path,
        parent: s.parent,
        file: s.file,
        template: s.tmpl,
        parameters: s.params,
        conditions,
        resources: s.resources,
        outputs: s.outputs,
        children: s.children.values().copied().collect(),
    }
}

fn did_you_mean<'s>(name: &str, candidates: impl Iterator<Item = &'s str>) -> Option<String> {
    candidates
        .map(|c| {
            (
                strsim::normalized_levenshtein(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

const PSEUDO: &[&str] = &[
    "AWS::Region",
    "AWS::AccountId",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::NotificationARNs",
];

/// The string form CloudFormation gives a scalar where a string is expected.
pub(crate) fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl<'e, 'a> Pass<'e, 'a> {
    fn err(
        &mut self,
        code: &'static str,
        span: &Span,
        ctx: &Ctx,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::new(code, span, msg).at(ctx.logical_id.as_deref(), ctx.path.clone()));
        self.diags.last_mut().expect("just pushed")
    }

    #[allow(clippy::too_many_arguments)]
    fn new_stack(
        &mut self,
        name: String,
        logical_path: Vec<String>,
        parent: Option<(StackId, String)>,
        file: String,
        tmpl: Option<Arc<Template>>,
        given: IndexMap<String, (Value, Option<Span>)>,
        source: &str,
    ) -> StackId {
        let mut params = IndexMap::new();
        if let Some(t) = &tmpl {
            for decl in t.parameters.values() {
                let ctx = Ctx::new(None, format!("Parameters.{}", decl.name));
                let value = match given.get(&decl.name) {
                    // Passed, but its value failed to resolve and is already reported.
                    Some((Value::Null, _)) => continue,
                    Some((v, _)) => Some(v.clone()),
                    None => decl.default.as_ref().and_then(|d| {
                        // Defaults are literals; evaluating them through the node gives their JSON value.
                        match &d.kind {
                            NodeKind::Seq(items) => Some(Value::String(
                                items
                                    .iter()
                                    .filter_map(Node::scalar_text)
                                    .collect::<Vec<_>>()
                                    .join(","),
                            )),
                            _ => d.scalar_text().map(Value::String),
                        }
                    }),
                };
                match value {
                    Some(v) => {
                        let v = self.check_param(decl, v, &ctx);
                        params.insert(decl.name.clone(), v);
                    }
                    None => {
                        let help = if source == "--param" {
                            format!(
                                "pass `--param {}=<value>` or give the parameter a Default",
                                decl.name
                            )
                        } else {
                            format!("pass it in `{source}` or give the parameter a Default")
                        };
                        let span = decl.span.clone();
                        self.err(
                            "E3001",
                            &span,
                            &ctx,
                            format!("parameter `{}` has no value", decl.name),
                        )
                        .help = Some(help);
                    }
                }
            }
        }
        self.stacks.push(StackState {
            name,
            logical_path,
            parent,
            file,
            tmpl,
            params,
            conds: HashMap::new(),
            attrs: HashMap::new(),
            children: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
            done: false,
        });
        self.stacks.len() - 1
    }

    /// Checks a parameter value against its declaration and gives it its typed form (lists for
    /// list types).
    fn check_param(&mut self, decl: &ParamDecl, v: Value, ctx: &Ctx) -> Value {
        let Some(text) = stringify(&v) else { return v };
        let span = decl.span.clone();
        let name = &decl.name;
        if let Some(allowed) = &decl.allowed_values {
            let list_type = decl.type_.starts_with("List<") || decl.type_ == "CommaDelimitedList";
            let values: Vec<&str> = if list_type {
                text.split(',').map(str::trim).collect()
            } else {
                vec![text.as_str()]
            };
            for value in values {
                if !allowed.iter().any(|a| a == value) {
                    self.err(
                        "E3002",
                        &span,
                        ctx,
                        format!(
                            "value `{value}` of parameter `{name}` is not one of its AllowedValues"
                        ),
                    )
                    .help = Some(format!("allowed: {}", allowed.join(", ")));
                }
            }
        }
        if let Some(pattern) = &decl.allowed_pattern {
            match regex::Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) if !re.is_match(&text) => {
                    self.err("E3003", &span, ctx, format!("value `{text}` of parameter `{name}` does not match AllowedPattern `{pattern}`"));
                }
                Ok(_) => {}
                Err(_) => {
                    self.err("E3003", &span, ctx, format!("AllowedPattern `{pattern}` of parameter `{name}` is not a valid pattern"));
                }
            }
        }
        let len = text.chars().count() as i64;
        if decl.min_length.is_some_and(|m| len < m) || decl.max_length.is_some_and(|m| len > m) {
            self.err("E3004", &span, ctx, format!("value `{text}` of parameter `{name}` has {len} characters, outside MinLength/MaxLength"));
        }
        if decl.type_ == "Number" {
            match text.trim().parse::<f64>() {
                Ok(n) => {
                    if decl.min_value.is_some_and(|m| n < m)
                        || decl.max_value.is_some_and(|m| n > m)
                    {
                        self.err(
                            "E3004",
                            &span,
                            ctx,
                            format!(
                                "value `{text}` of parameter `{name}` is outside MinValue/MaxValue"
                            ),
                        );
                    }
                }
                Err(_) => {
                    self.err(
                        "E3004",
                        &span,
                        ctx,
                        format!("value `{text}` of parameter `{name}` is not a number"),
                    );
                }
            }
        }
        if decl.type_.starts_with("List<") || decl.type_ == "CommaDelimitedList" {
            return Value::Array(text.split(',').map(|s| json!(s.trim())).collect());
        }
        json!(text)
    }

    fn tmpl(&self, sid: StackId) -> Option<Arc<Template>> {
        self.stacks[sid].tmpl.clone()
    }

    /// Resolves every resource and output of a stack (and, through nested stack resources, its
    /// children).
    fn resolve_stack(&mut self, sid: StackId) {
        let Some(t) = self.tmpl(sid) else {
            self.stacks[sid].done = true;
            return;
        };
        for (id, raw) in &t.resources {
            if !self.resource_enabled(sid, raw) {
                continue;
            }
            let resource = self.resolve_resource(sid, raw);
            self.stacks[sid].resources.insert(id.clone(), resource);
        }
        for (name, raw) in &t.outputs {
            let ctx = Ctx::new(None, format!("Outputs.{name}"));
            if let Some((c, span)) = &raw.condition {
                if !self.condition(sid, c, span, &ctx) {
                    continue;
                }
            }
            let value = match &raw.value {
                Some(v) => {
                    let ctx = Ctx::new(None, format!("Outputs.{name}.Value"));
                    self.eval(sid, v, &ctx).unwrap_or(Value::Null)
                }
                None => Value::Null,
            };
            let export = raw.export_name.as_ref().and_then(|n| {
                let ctx = Ctx::new(None, format!("Outputs.{name}.Export.Name"));
                let v = self.eval(sid, n, &ctx)?;
                match stringify(&v) {
                    Some(s) => Some(s),
                    None => {
                        self.err("E2002", &n.span, &ctx, "an export name must be a string");
                        None
                    }
                }
            });
            if let Some(export_name) = &export {
                let span = raw
                    .export_name
                    .as_ref()
                    .map(|n| n.span.clone())
                    .unwrap_or(raw.span.clone());
                if let Some(first) = self.exports.get(export_name) {
                    let first_at = first.span.to_string();
                    let ctx = Ctx::new(None, format!("Outputs.{name}.Export.Name"));
                    self.err("E4003", &span, &ctx, format!("export name `{export_name}` is already exported"))
                        .help = Some(format!("first exported at {first_at}; export names are unique per account and region"));
                } else {
                    let e = Export {
                        name: export_name.clone(),
                        value: value.clone(),
                        stack: sid,
                        output: name.clone(),
                        span,
                    };
                    self.exports.insert(export_name.clone(), e);
                }
            }
            let out = Output {
                name: name.clone(),
                value,
                export,
                span: raw.span.clone(),
                description: raw.description.clone(),
            };
            self.stacks[sid].outputs.insert(name.clone(), out);
        }
        self.stacks[sid].done = true;
    }

    fn resource_enabled(&mut self, sid: StackId, raw: &RawResource) -> bool {
        match &raw.condition {
            Some((c, span)) => {
                let ctx = Ctx::new(
                    Some(&raw.logical_id),
                    format!("Resources.{}.Condition", raw.logical_id),
                );
                self.condition(sid, c, span, &ctx)
            }
            None => true,
        }
    }

    fn resolve_resource(&mut self, sid: StackId, raw: &RawResource) -> Resource {
        let id = &raw.logical_id;
        let ctx = Ctx::new(Some(id), format!("Resources.{id}.Properties"));
        // For a nested stack this resolves the child first, under the cycle guard of `attrs`.
        let attrs = self.attrs(sid, id);
        let child = self.stacks[sid].children.get(id).copied();
        let properties = self
            .eval(sid, &raw.properties, &ctx)
            .unwrap_or(Value::Object(Default::default()));
        let t = self.tmpl(sid);
        for (dep, span) in &raw.depends_on {
            let exists = t.as_ref().is_some_and(|t| t.resources.contains_key(dep));
            if !exists {
                let ctx = Ctx::new(Some(id), format!("Resources.{id}.DependsOn"));
                let hint = t
                    .as_ref()
                    .and_then(|t| did_you_mean(dep, t.resources.keys().map(String::as_str)));
                let d = self.err(
                    "E4001",
                    span,
                    &ctx,
                    format!("DependsOn names `{dep}`, which is no resource of this template"),
                );
                d.help = hint;
            }
        }
        let metadata = raw.metadata.as_ref().and_then(|m| {
            let ctx = Ctx::new(Some(id), format!("Resources.{id}.Metadata"));
            self.eval(sid, m, &ctx)
        });
        let code_uri = raw.code_uri.as_ref().and_then(|node| {
            let ctx = Ctx::new(Some(id), format!("Resources.{id}.Properties.CodeUri"));
            let v = self.eval(sid, node, &ctx)?;
            let text = stringify(&v)?;
            if text.starts_with("s3://") {
                return None;
            }
            let file = self.stacks[sid].file.clone();
            match join_relative(&file, &text) {
                Some(p) => Some(p),
                None => {
                    self.err(
                        "E1005",
                        &node.span,
                        &ctx,
                        format!("CodeUri `{text}` leaves the project folder"),
                    )
                    .help = Some(
                        "keep function code inside the folder of the root template".to_string(),
                    );
                    None
                }
            }
        });
        let attrs = attrs.unwrap_or_else(|| Attrs {
            name: types::generated_name(&self.stacks[sid].name, id),
            reference: Value::Null,
            attributes: IndexMap::new(),
        });
        Resource {
            logical_id: id.clone(),
            type_: raw.type_.clone(),
            properties,
            source: raw.properties.clone(),
            span: raw.span.clone(),
            depends_on: raw.depends_on.iter().map(|(d, _)| d.clone()).collect(),
            condition: raw.condition.as_ref().map(|(c, _)| c.clone()),
            deletion_policy: raw.deletion_policy.clone(),
            update_replace_policy: raw.update_replace_policy.clone(),
            metadata,
            physical_name: attrs.name,
            ref_value: attrs.reference,
            attributes: attrs.attributes,
            sam_origin: raw.sam_origin.clone(),
            sam_path: raw.sam_path.clone(),
            code_uri,
            code_uri_span: raw.code_uri.as_ref().map(|n| n.span.clone()),
            child,
        }
    }

    /// Creates and resolves the nested stack of resource `raw` once.
    fn ensure_child(&mut self, sid: StackId, raw: &RawResource) -> Option<StackId> {
        if let Some(c) = self.stacks[sid].children.get(&raw.logical_id) {
            return Some(*c);
        }
        let id = &raw.logical_id;
        let ctx = Ctx::new(Some(id), format!("Resources.{id}.Properties.TemplateURL"));
        let Some(url_node) = raw.properties.get("TemplateURL") else {
            self.err(
                "E1006",
                &raw.span,
                &ctx,
                format!("nested stack `{id}` has no TemplateURL"),
            );
            return None;
        };
        let url = self
            .eval(sid, url_node, &ctx)
            .as_ref()
            .and_then(stringify)?;
        if url.contains("://") {
            self.err("E1005", &url_node.span, &ctx, format!("TemplateURL `{url}` is remote"))
                .help = Some("point TemplateURL at a template file inside the project, relative to this template".to_string());
            return None;
        }
        let file = self.stacks[sid].file.clone();
        let Some(path) = join_relative(&file, &url) else {
            self.err(
                "E1005",
                &url_node.span,
                &ctx,
                format!("TemplateURL `{url}` leaves the project folder"),
            )
            .help = Some(
                "nested templates must live inside the folder of the root template".to_string(),
            );
            return None;
        };
        // A template that nests itself, directly or through its children, would never end.
        let mut chain = vec![self.stacks[sid].file.clone()];
        let mut cursor = sid;
        while let Some((parent, _)) = &self.stacks[cursor].parent {
            cursor = *parent;
            chain.push(self.stacks[cursor].file.clone());
        }
        if chain.contains(&path) {
            chain.reverse();
            chain.push(path.clone());
            self.err(
                "E4002",
                &url_node.span,
                &ctx,
                format!("nested stacks form a cycle: {}", chain.join(" -> ")),
            )
            .help =
                Some("a template cannot nest itself, directly or through its children".to_string());
            return None;
        }
        let tmpl = match self.eng.template(&path) {
            Ok(t) => Some(t),
            Err(e) => {
                let msg = match e {
                    LoadError::NotFound(_) => format!("nested template `{path}` does not exist"),
                    other => other.to_string(),
                };
                self.err("E1004", &url_node.span, &ctx, msg);
                None
            }
        };
        let mut given = IndexMap::new();
        if let Some(params) = raw.properties.get("Parameters") {
            let pctx = Ctx::new(Some(id), format!("Resources.{id}.Properties.Parameters"));
            if let Some(entries) = params.as_map() {
                for (k, v) in entries {
                    let vctx = Ctx::new(Some(id), format!("{}.{}", pctx.path, k.name));
                    if let Some(t) = &tmpl {
                        if !t.parameters.contains_key(&k.name) {
                            let hint =
                                did_you_mean(&k.name, t.parameters.keys().map(String::as_str));
                            self.err(
                                "E3005",
                                &k.span,
                                &vctx,
                                format!("`{path}` declares no parameter `{}`", k.name),
                            )
                            .help = hint;
                        }
                    }
                    // A value that failed to resolve was reported where it was written; the
                    // child gets a null so that it does not report the same fault again.
                    let Some(value) = self.eval(sid, v, &vctx) else {
                        given.insert(k.name.clone(), (Value::Null, Some(v.span.clone())));
                        continue;
                    };
                    {
                        let value = match value {
                            Value::Array(items) => json!(items
                                .iter()
                                .filter_map(stringify)
                                .collect::<Vec<_>>()
                                .join(",")),
                            other => other,
                        };
                        given.insert(k.name.clone(), (value, Some(v.span.clone())));
                    }
                }
            } else if params.intrinsic().is_none() {
                self.err(
                    "E1006",
                    &params.span,
                    &pctx,
                    "Parameters of a nested stack must be a mapping",
                );
            }
        }
        let name = format!("{}-{id}", self.stacks[sid].name);
        let mut logical_path = self.stacks[sid].logical_path.clone();
        logical_path.push(id.clone());
        let source = format!("Resources.{id}.Properties.Parameters of {file}");
        let child = self.new_stack(
            name,
            logical_path,
            Some((sid, id.clone())),
            path,
            tmpl,
            given,
            &source,
        );
        self.stacks[sid].children.insert(id.clone(), child);
        self.resolve_stack(child);
        Some(child)
    }

    /// The physical name, `Ref` value and attributes of a resource, computed once.
    fn attrs(&mut self, sid: StackId, id: &str) -> Option<Attrs> {
        match self.stacks[sid].attrs.get(id) {
            Some(Lazy::Done(a)) => return a.clone(),
            Some(Lazy::Running) => return None,
            None => {}
        }
        let t = self.tmpl(sid)?;
        let raw = t.resources.get(id)?;
        self.stacks[sid].attrs.insert(id.to_string(), Lazy::Running);
        let stack_name = self.stacks[sid].name.clone();
        let result = if raw.type_ == "AWS::CloudFormation::Stack" {
            self.ensure_child(sid, raw).map(|child| {
                let name = self.stacks[child].name.clone();
                let arn = types::arn(&self.eng.env, &raw.type_, &name, &stack_name, id);
                let attributes = self.stacks[child]
                    .outputs
                    .iter()
                    .map(|(k, o)| (format!("Outputs.{k}"), o.value.clone()))
                    .collect();
                Attrs {
                    name,
                    reference: json!(arn),
                    attributes,
                }
            })
        } else {
            let name = match types::name_property(&raw.type_)
                .and_then(|p| raw.properties.get(p).map(|n| (p, n)))
            {
                Some((p, node)) => {
                    let ctx = Ctx::new(Some(id), format!("Resources.{id}.Properties.{p}"));
                    self.eval(sid, node, &ctx).as_ref().and_then(stringify)
                }
                None => None,
            };
            let name = name.unwrap_or_else(|| types::generated_name(&stack_name, id));
            let (reference, attributes) =
                types::values(&self.eng.env, &raw.type_, &name, &stack_name, id);
            Some(Attrs {
                name,
                reference,
                attributes: attributes.into_iter().collect(),
            })
        };
        self.stacks[sid]
            .attrs
            .insert(id.to_string(), Lazy::Done(result.clone()));
        result
    }

    fn condition(&mut self, sid: StackId, name: &str, span: &Span, ctx: &Ctx) -> bool {
        match self.stacks[sid].conds.get(name) {
            Some(Lazy::Done(b)) => return *b,
            Some(Lazy::Running) => {
                self.err(
                    "E4002",
                    span,
                    ctx,
                    format!("condition `{name}` depends on itself"),
                );
                return false;
            }
            None => {}
        }
        let Some(t) = self.tmpl(sid) else {
            return false;
        };
        let Some(node) = t.conditions.get(name) else {
            let hint = did_you_mean(name, t.conditions.keys().map(String::as_str));
            self.err(
                "E2008",
                span,
                ctx,
                format!("condition `{name}` is not declared in Conditions"),
            )
            .help = hint;
            return false;
        };
        self.stacks[sid]
            .conds
            .insert(name.to_string(), Lazy::Running);
        let cctx = Ctx::new(None, format!("Conditions.{name}"));
        let value = match self.eval(sid, node, &cctx) {
            Some(Value::Bool(b)) => b,
            _ => {
                self.err("E2002", &node.span, &cctx, format!("condition `{name}` must be a condition function (Fn::Equals, Fn::And, ...)"));
                false
            }
        };
        self.stacks[sid]
            .conds
            .insert(name.to_string(), Lazy::Done(value));
        value
    }

    /// Evaluates a node to its value; `None` is `AWS::NoValue` (or a value that could not be
    /// computed, already reported).
    fn eval(&mut self, sid: StackId, node: &Node, ctx: &Ctx) -> Option<Value> {
        match &node.kind {
            NodeKind::Null => Some(Value::Null),
            NodeKind::Bool(b) => Some(json!(b)),
            NodeKind::Int(i) => Some(json!(i)),
            NodeKind::Float(f) => Some(
                serde_json::Number::from_f64(*f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            ),
            NodeKind::Str(s) => Some(json!(s)),
            NodeKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let c = Ctx::new(ctx.logical_id.as_deref(), format!("{}.{i}", ctx.path));
                    if let Some(v) = self.eval(sid, item, &c) {
                        out.push(v);
                    }
                }
                Some(Value::Array(out))
            }
            NodeKind::Map(entries) => {
                // The property path names where the value is written, not the function computing it.
                if let Some((name, arg)) = node.intrinsic() {
                    return self.intrinsic(sid, name, arg, node, ctx);
                }
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    let c = Ctx::new(
                        ctx.logical_id.as_deref(),
                        format!("{}.{}", ctx.path, k.name),
                    );
                    if let Some(v) = self.eval(sid, v, &c) {
                        out.insert(k.name.clone(), v);
                    }
                }
                Some(Value::Object(out))
            }
        }
    }

    fn eval_string(&mut self, sid: StackId, node: &Node, ctx: &Ctx, what: &str) -> Option<String> {
        let v = self.eval(sid, node, ctx)?;
        match stringify(&v) {
            Some(s) => Some(s),
            None if v.is_null() => None,
            None => {
                self.err(
                    "E2002",
                    &node.span,
                    ctx,
                    format!("{what} must be a string, found {}", kind_of(&v)),
                );
                None
            }
        }
    }

    fn eval_list(
        &mut self,
        sid: StackId,
        node: &Node,
        ctx: &Ctx,
        what: &str,
    ) -> Option<Vec<Value>> {
        match self.eval(sid, node, ctx)? {
            Value::Array(items) => Some(items),
            Value::Null => None,
            other => {
                self.err(
                    "E2002",
                    &node.span,
                    ctx,
                    format!("{what} must be a list, found {}", kind_of(&other)),
                );
                None
            }
        }
    }

    fn shape(&mut self, node: &Node, ctx: &Ctx, name: &str, expected: &str) -> Option<Value> {
        self.err(
            "E2002",
            &node.span,
            ctx,
            format!("{name} takes {expected}, found {}", node.kind_name()),
        );
        None
    }

    fn intrinsic(
        &mut self,
        sid: StackId,
        name: &str,
        arg: &Node,
        call: &Node,
        ctx: &Ctx,
    ) -> Option<Value> {
        let args = arg.as_seq();
        match name {
            "Ref" => match arg.as_str() {
                Some(target) => self.reference(sid, target, &arg.span, ctx),
                None => self.shape(arg, ctx, "Ref", "a logical id or parameter name"),
            },
            "Condition" => match arg.as_str() {
                Some(c) => Some(json!(self.condition(sid, c, &arg.span, ctx))),
                None => self.shape(arg, ctx, "Condition", "a condition name"),
            },
            "Fn::GetAtt" => {
                let (res, attr) = match &arg.kind {
                    NodeKind::Str(s) => match s.split_once('.') {
                        Some((r, a)) => (r.to_string(), a.to_string()),
                        None => {
                            return self.shape(
                                arg,
                                ctx,
                                "Fn::GetAtt",
                                "`Resource.Attribute` or [Resource, Attribute]",
                            )
                        }
                    },
                    NodeKind::Seq(items) if items.len() == 2 => {
                        let Some(res) = items[0].as_str() else {
                            return self.shape(
                                &items[0],
                                ctx,
                                "Fn::GetAtt",
                                "a logical id as its first item",
                            );
                        };
                        let attr = self.eval_string(sid, &items[1], ctx, "the attribute name")?;
                        (res.to_string(), attr)
                    }
                    _ => {
                        return self.shape(
                            arg,
                            ctx,
                            "Fn::GetAtt",
                            "`Resource.Attribute` or [Resource, Attribute]",
                        )
                    }
                };
                self.getatt(sid, &res, &attr, &arg.span, ctx)
            }
            "Fn::Sub" => {
                let (text, vars) = match &arg.kind {
                    NodeKind::Str(s) => (s.clone(), None),
                    NodeKind::Seq(items) if items.len() == 2 && items[0].as_str().is_some() => {
                        let vars = match self.eval(sid, &items[1], ctx) {
                            Some(Value::Object(mut m)) => {
                                // A declared variable whose value failed is already reported;
                                // null keeps it from being reported again as unknown.
                                for (k, _) in items[1].as_map().unwrap_or(&[]) {
                                    m.entry(k.name.clone()).or_insert(Value::Null);
                                }
                                m
                            }
                            _ => {
                                return self.shape(
                                    &items[1],
                                    ctx,
                                    "Fn::Sub",
                                    "a mapping of variables as its second item",
                                )
                            }
                        };
                        (
                            items[0].as_str().unwrap_or_default().to_string(),
                            Some(vars),
                        )
                    }
                    _ => {
                        return self.shape(arg, ctx, "Fn::Sub", "a string or [string, {variables}]")
                    }
                };
                self.sub(sid, &text, vars.as_ref(), arg, ctx)
                    .map(Value::String)
            }
            "Fn::ImportValue" => {
                let export = self.eval_string(sid, arg, ctx, "the export name")?;
                if let Some(e) = self
                    .exports
                    .get(&export)
                    .or_else(|| self.known_exports.get(&export))
                {
                    let value = e.value.clone();
                    self.imports.push(ImportUse {
                        stack: sid,
                        logical_id: ctx.logical_id.clone(),
                        path: ctx.path.clone(),
                        export,
                        span: call.span.clone(),
                    });
                    return Some(value);
                }
                self.import_misses += 1;
                let known: Vec<&str> = self
                    .exports
                    .keys()
                    .chain(self.known_exports.keys())
                    .map(String::as_str)
                    .collect();
                let hint = did_you_mean(&export, known.into_iter());
                self.err(
                    "E4004",
                    &call.span,
                    ctx,
                    format!("no stack exports `{export}`"),
                )
                .help = Some(hint.unwrap_or_else(|| {
                    "add an Output with `Export: {Name: ...}` to the stack that owns the value"
                        .to_string()
                }));
                None
            }
            "Fn::Join" => match args {
                Some([delim, list]) => {
                    let delim = self.eval_string(sid, delim, ctx, "the Fn::Join delimiter")?;
                    let items = self.eval_list(sid, list, ctx, "the Fn::Join list")?;
                    let mut parts = Vec::with_capacity(items.len());
                    for item in &items {
                        match stringify(item) {
                            Some(s) => parts.push(s),
                            None => return self.shape(list, ctx, "Fn::Join", "a list of strings"),
                        }
                    }
                    Some(json!(parts.join(&delim)))
                }
                _ => self.shape(arg, ctx, "Fn::Join", "[delimiter, [values]]"),
            },
            "Fn::Select" => match args {
                Some([index, list]) => {
                    let index_v = self.eval(sid, index, ctx)?;
                    let Some(i) = stringify(&index_v).and_then(|s| s.parse::<usize>().ok()) else {
                        return self.shape(index, ctx, "Fn::Select", "a non-negative index");
                    };
                    let items = self.eval_list(sid, list, ctx, "the Fn::Select list")?;
                    match items.get(i) {
                        Some(v) => Some(v.clone()),
                        None => {
                            self.err(
                                "E2009",
                                &index.span,
                                ctx,
                                format!(
                                    "Fn::Select index {i} is out of range for a list of {}",
                                    items.len()
                                ),
                            );
                            None
                        }
                    }
                }
                _ => self.shape(arg, ctx, "Fn::Select", "[index, [values]]"),
            },
            "Fn::Split" => match args {
                Some([delim, text]) => {
                    let delim = self.eval_string(sid, delim, ctx, "the Fn::Split delimiter")?;
                    let text = self.eval_string(sid, text, ctx, "the Fn::Split source")?;
                    if delim.is_empty() {
                        return self.shape(arg, ctx, "Fn::Split", "a non-empty delimiter");
                    }
                    Some(Value::Array(
                        text.split(delim.as_str()).map(|s| json!(s)).collect(),
                    ))
                }
                _ => self.shape(arg, ctx, "Fn::Split", "[delimiter, string]"),
            },
            "Fn::If" => match args {
                Some([cond, yes, no]) => {
                    let Some(c) = cond.as_str() else {
                        return self.shape(
                            cond,
                            ctx,
                            "Fn::If",
                            "a condition name as its first item",
                        );
                    };
                    if self.condition(sid, c, &cond.span, ctx) {
                        self.eval(sid, yes, ctx)
                    } else {
                        self.eval(sid, no, ctx)
                    }
                }
                _ => self.shape(
                    arg,
                    ctx,
                    "Fn::If",
                    "[condition, value if true, value if false]",
                ),
            },
            "Fn::Equals" => match args {
                Some([a, b]) => {
                    let a = self.eval(sid, a, ctx).unwrap_or(Value::Null);
                    let b = self.eval(sid, b, ctx).unwrap_or(Value::Null);
                    let eq = match (stringify(&a), stringify(&b)) {
                        (Some(x), Some(y)) => x == y,
                        _ => a == b,
                    };
                    Some(json!(eq))
                }
                _ => self.shape(arg, ctx, "Fn::Equals", "[value, value]"),
            },
            "Fn::Not" | "Fn::And" | "Fn::Or" => {
                let Some(items) = args else {
                    return self.shape(arg, ctx, name, "a list of conditions");
                };
                let (min, max) = if name == "Fn::Not" { (1, 1) } else { (2, 10) };
                if items.len() < min || items.len() > max {
                    let expected = if name == "Fn::Not" {
                        "exactly one condition".to_string()
                    } else {
                        "2 to 10 conditions".to_string()
                    };
                    return self.shape(arg, ctx, name, &expected);
                }
                let mut values = Vec::new();
                for item in items {
                    match self.eval(sid, item, ctx) {
                        Some(Value::Bool(b)) => values.push(b),
                        _ => {
                            return self.shape(
                                item,
                                ctx,
                                name,
                                "conditions (Fn::Equals, Condition, ...)",
                            )
                        }
                    }
                }
                Some(json!(match name {
                    "Fn::Not" => !values[0],
                    "Fn::And" => values.iter().all(|b| *b),
                    _ => values.iter().any(|b| *b),
                }))
            }
            "Fn::FindInMap" => match args {
                Some(items) if items.len() == 3 || items.len() == 4 => {
                    let mut keys = Vec::new();
                    for item in &items[..3] {
                        keys.push(self.eval_string(sid, item, ctx, "a Fn::FindInMap key")?);
                    }
                    let default = items.get(3).and_then(|d| d.get("DefaultValue")).cloned();
                    let found = self.tmpl(sid).and_then(|t| {
                        let m = t
                            .mappings
                            .as_ref()?
                            .get(&keys[0])?
                            .get(&keys[1])?
                            .get(&keys[2])?
                            .clone();
                        Some(m)
                    });
                    match (found, default) {
                        (Some(n), _) | (None, Some(n)) => self.eval(sid, &n, ctx),
                        (None, None) => {
                            self.err(
                                "E2007",
                                &arg.span,
                                ctx,
                                format!("Mappings has no `{}.{}.{}`", keys[0], keys[1], keys[2]),
                            );
                            None
                        }
                    }
                }
                _ => self.shape(
                    arg,
                    ctx,
                    "Fn::FindInMap",
                    "[map, top-level key, second-level key]",
                ),
            },
            "Fn::Base64" => {
                let text = self.eval_string(sid, arg, ctx, "the Fn::Base64 argument")?;
                Some(json!(base64(text.as_bytes())))
            }
            "Fn::GetAZs" => {
                let region = self
                    .eval_string(sid, arg, ctx, "the Fn::GetAZs region")
                    .unwrap_or_default();
                let region = if region.is_empty() {
                    self.eng.env.region.clone()
                } else {
                    region
                };
                Some(Value::Array(
                    ["a", "b", "c"]
                        .iter()
                        .map(|z| json!(format!("{region}{z}")))
                        .collect(),
                ))
            }
            "Fn::Length" => {
                let items = self.eval_list(sid, arg, ctx, "the Fn::Length argument")?;
                Some(json!(items.len()))
            }
            "Fn::ToJsonString" => {
                let v = self.eval(sid, arg, ctx)?;
                Some(json!(v.to_string()))
            }
            other => {
                self.err("E2001", &call.span, ctx, format!("unknown intrinsic function `{other}`")).help = Some(
                    "the intrinsics are Ref, Condition, Fn::GetAtt, Fn::Sub, Fn::ImportValue, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::Length, Fn::ToJsonString".to_string(),
                );
                None
            }
        }
    }

    fn reference(&mut self, sid: StackId, target: &str, span: &Span, ctx: &Ctx) -> Option<Value> {
        let env = &self.eng.env;
        match target {
            "AWS::Region" => return Some(json!(env.region)),
            "AWS::AccountId" => return Some(json!(env.account)),
            "AWS::Partition" => return Some(json!("aws")),
            "AWS::URLSuffix" => return Some(json!("amazonaws.com")),
            "AWS::NoValue" => return None,
            "AWS::NotificationARNs" => return Some(json!([])),
            "AWS::StackName" => return Some(json!(self.stacks[sid].name)),
            "AWS::StackId" => {
                let name = self.stacks[sid].name.clone();
                return Some(json!(types::arn(
                    env,
                    "AWS::CloudFormation::Stack",
                    &name,
                    &name,
                    ""
                )));
            }
            _ => {}
        }
        if let Some(v) = self.stacks[sid].params.get(target) {
            return Some(v.clone());
        }
        let t = self.tmpl(sid)?;
        if t.parameters.contains_key(target) {
            // Declared but without a value: already reported as E3001.
            return None;
        }
        if let Some(raw) = t.resources.get(target) {
            if !self.created(sid, raw, "E2003", span, ctx) {
                return None;
            }
            return self.attrs(sid, target).map(|a| a.reference);
        }
        let candidates = t
            .parameters
            .keys()
            .chain(t.resources.keys())
            .map(String::as_str)
            .chain(PSEUDO.iter().copied());
        let hint = did_you_mean(target, candidates);
        self.err(
            "E2003",
            span,
            ctx,
            format!("Ref `{target}` names no parameter, resource or pseudo parameter"),
        )
        .help = hint;
        None
    }

    /// Whether a referenced resource exists in this environment; a reference to one whose
    /// condition is false fails on AWS ("unresolved resource dependencies").
    fn created(
        &mut self,
        sid: StackId,
        raw: &RawResource,
        code: &'static str,
        span: &Span,
        ctx: &Ctx,
    ) -> bool {
        let Some((c, cspan)) = &raw.condition else {
            return true;
        };
        let rctx = Ctx::new(
            Some(&raw.logical_id),
            format!("Resources.{}.Condition", raw.logical_id),
        );
        if self.condition(sid, c, cspan, &rctx) {
            return true;
        }
        let id = &raw.logical_id;
        self.err(code, span, ctx, format!("`{id}` is not created in this environment (its condition `{c}` is false)")).help =
            Some(format!("guard the reference with `Fn::If: [{c}, ..., !Ref AWS::NoValue]` or give this resource the same condition"));
        false
    }

    fn getatt(
        &mut self,
        sid: StackId,
        res: &str,
        attr: &str,
        span: &Span,
        ctx: &Ctx,
    ) -> Option<Value> {
        let t = self.tmpl(sid)?;
        let Some(raw) = t.resources.get(res) else {
            let hint = did_you_mean(res, t.resources.keys().map(String::as_str));
            self.err(
                "E2004",
                span,
                ctx,
                format!("Fn::GetAtt names `{res}`, which is no resource of this template"),
            )
            .help = hint;
            return None;
        };
        let type_ = raw.type_.clone();
        if !self.created(sid, raw, "E2004", span, ctx) {
            return None;
        }
        let attrs = self.attrs(sid, res)?;
        if let Some(v) = attrs.attributes.get(attr) {
            return Some(v.clone());
        }
        if type_ == "AWS::CloudFormation::Stack" {
            let child = self.stacks[sid].children.get(res).copied();
            let Some(output) = attr.strip_prefix("Outputs.") else {
                self.err(
                    "E2005",
                    span,
                    ctx,
                    format!("a nested stack has only `Outputs.<Name>` attributes, not `{attr}`"),
                );
                return None;
            };
            // A child still being resolved is a cycle, reported by the graph.
            if child.is_some_and(|c| self.stacks[c].done) {
                let c = child.unwrap_or_default();
                let names: Vec<String> = self.stacks[c].outputs.keys().cloned().collect();
                let file = self.stacks[c].file.clone();
                let hint = did_you_mean(output, names.iter().map(String::as_str));
                self.err(
                    "E2005",
                    span,
                    ctx,
                    format!("nested stack `{res}` ({file}) has no output `{output}`"),
                )
                .help = hint;
            }
            return None;
        }
        if types::is_known(&type_) {
            let have = types::attributes(&type_).unwrap_or(&[]).join(", ");
            self.err(
                "E2005",
                span,
                ctx,
                format!("`{res}` ({type_}) has no attribute `{attr}`"),
            )
            .help = Some(format!("its attributes: {have}"));
            return None;
        }
        // Types outside the catalogue: any attribute is taken on trust, shaped like an ARN suffix.
        Some(json!(format!(
            "{}/{attr}",
            types::arn(
                &self.eng.env,
                &type_,
                &attrs.name,
                &self.stacks[sid].name,
                res
            )
        )))
    }

    fn sub(
        &mut self,
        sid: StackId,
        text: &str,
        vars: Option<&serde_json::Map<String, Value>>,
        node: &Node,
        ctx: &Ctx,
    ) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut ok = true;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.err("E2002", &node.span, ctx, "Fn::Sub has an unclosed `${`");
                return None;
            };
            let var = after[..end].trim();
            rest = &after[end + 1..];
            if let Some(literal) = var.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let value = if let Some(v) = vars.and_then(|m| m.get(var)) {
                Some(v.clone())
            } else if let Some((res, attr)) =
                var.split_once('.').filter(|_| !var.starts_with("AWS::"))
            {
                let exists = self
                    .tmpl(sid)
                    .is_some_and(|t| t.resources.contains_key(res));
                if exists {
                    self.getatt(sid, res, attr, &node.span, ctx)
                } else {
                    let hint = self
                        .tmpl(sid)
                        .and_then(|t| did_you_mean(res, t.resources.keys().map(String::as_str)));
                    self.err(
                        "E2006",
                        &node.span,
                        ctx,
                        format!("Fn::Sub variable `${{{var}}}` names no resource"),
                    )
                    .help = hint;
                    None
                }
            } else {
                let known = PSEUDO.contains(&var)
                    || self.tmpl(sid).is_some_and(|t| {
                        t.parameters.contains_key(var) || t.resources.contains_key(var)
                    });
                if known {
                    self.reference(sid, var, &node.span, ctx)
                } else {
                    let candidates: Vec<String> = self
                        .tmpl(sid)
                        .map(|t| {
                            t.parameters
                                .keys()
                                .chain(t.resources.keys())
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    let hint = did_you_mean(var, candidates.iter().map(String::as_str));
                    self.err("E2006", &node.span, ctx, format!("Fn::Sub variable `${{{var}}}` names no parameter, resource or pseudo parameter")).help = hint;
                    None
                }
            };
            match value.as_ref().and_then(stringify) {
                Some(s) => out.push_str(&s),
                None => ok = false,
            }
        }
        out.push_str(rest);
        ok.then_some(out)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
