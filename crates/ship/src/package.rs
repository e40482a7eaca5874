//! `package`: every function's code and every nested template to S3, and the root template
//! rewritten to point at them.
//!
//! Two steps. [`prepare`] works locally: it walks the templates from the root through each local
//! `TemplateURL`, builds and zips each function once per folder, and rewrites the templates
//! children first, because a parent's `TemplateURL` names the child's key and every key is the
//! SHA-256 of the content. [`upload`] then creates the bucket when it is absent and puts each
//! object that is not there yet (`HeadObject` first): content-addressed keys make "already there"
//! mean "unchanged".

use crate::artifact::{self, Build};
use crate::client::Clients;
use crate::error::ShipError;
use crate::rewrite::{self, Replacement, SiteKind, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use template::loader::join_relative;

/// What to package and where to.
#[derive(Clone, Debug)]
pub struct PackageOptions {
    /// The root template on disk; nested templates and code folders are relative to the
    /// template that names them, and must stay inside the root template's folder.
    pub template: PathBuf,
    pub bucket: String,
    /// Key prefix (`repo/branch/env`); empty for none.
    pub prefix: String,
    pub build: Build,
    /// Scratch space for build outputs.
    pub work_dir: PathBuf,
}

/// Where objects go: the bucket, the prefix and the region of their URLs.
#[derive(Clone, Debug)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
    pub region: String,
}

impl Location {
    /// The content-addressed key of an object: `<prefix>/<sha256>.<extension>`.
    pub fn key(&self, sha256: &str, extension: &str) -> String {
        let prefix = self.prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("{sha256}.{extension}")
        } else {
            format!("{prefix}/{sha256}.{extension}")
        }
    }

    pub fn s3_uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The `https://` form CloudFormation requires for `TemplateURL`. Path-style, so that bucket
    /// names with dots work.
    pub fn https_url(&self, key: &str) -> String {
        format!(
            "https://s3.{}.{}/{}/{key}",
            self.region,
            domain(&self.region),
            self.bucket
        )
    }
}

fn domain(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// One object to upload.
#[derive(Clone, Debug)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
    pub what: What,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// A function's zip, by the logical id that first named its folder.
    Function { logical_id: String, dir: String },
    /// A nested template, by its path relative to the root template's folder.
    Template { file: String },
}

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Function { logical_id, dir } => write!(f, "function {logical_id} ({dir})"),
            What::Template { file } => write!(f, "template {file}"),
        }
    }
}

/// The packaged project before upload.
#[derive(Clone, Debug)]
pub struct Plan {
    pub location: Location,
    /// The rewritten root template.
    pub template: String,
    /// Function zips first, then nested templates children first; no key twice.
    pub objects: Vec<Object>,
}

/// What one upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub key: String,
    pub what: What,
    /// False when the object was already in the bucket (unchanged content).
    pub uploaded: bool,
}

/// Everything `package` did.
#[derive(Clone, Debug)]
pub struct Packaged {
    pub template: String,
    pub created_bucket: bool,
    pub objects: Vec<Uploaded>,
}

/// Builds, zips and rewrites locally (no network).
pub fn prepare(options: &PackageOptions, region: &str) -> Result<Plan, ShipError> {
    let root_dir = options
        .template
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let root_file = options
        .template
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let location = Location {
        bucket: options.bucket.clone(),
        prefix: options.prefix.clone(),
        region: region.to_string(),
    };
    let read = |rel: &str| {
        let path = root_dir.join(rel);
        std::fs::read_to_string(&path).map_err(|source| ShipError::Read { path, source })
    };
    let mut functions: Vec<Object> = Vec::new();
    let mut by_dir: HashMap<String, String> = HashMap::new();
    let mut code = |file: &str, site: &rewrite::Site, dir_rel: &str| -> Result<String, ShipError> {
        if let Some(key) = by_dir.get(dir_rel) {
            return Ok(key.clone());
        }
        let dir = root_dir.join(dir_rel);
        if !dir.exists() {
            return Err(ShipError::MissingCode {
                file: file.to_string(),
                logical_id: site.logical_id.clone(),
                path: site.path.clone(),
            });
        }
        let rust = artifact::is_rust(&dir, site.build_method.as_deref());
        let work = options.work_dir.join(dir_rel.replace('/', "_"));
        let artifact = artifact::prepare(
            &site.logical_id,
            &dir,
            rust,
            site.arm64,
            &options.build,
            &work,
        )?;
        let key = location.key(&artifact.sha256, "zip");
        by_dir.insert(dir_rel.to_string(), key.clone());
        functions.push(Object {
            key: key.clone(),
            bytes: artifact.bytes,
            what: What::Function {
                logical_id: site.logical_id.clone(),
                dir: dir_rel.to_string(),
            },
        });
        Ok(key)
    };
    let (template, templates) = rewrite_tree(&root_file, &read, &mut code, &location)?;
    let mut objects = functions;
    objects.extend(templates);
    Ok(Plan {
        location,
        template,
        objects,
    })
}

/// Rewrites the template at `root` and every nested template below it. `code` returns the key
/// of a function folder's zip (`file` names the template, `dir` the folder relative to the
/// project). Returns the rewritten root and the nested templates to upload, children first.
pub fn rewrite_tree(
    root: &str,
    read: &dyn Fn(&str) -> Result<String, ShipError>,
    code: &mut dyn FnMut(&str, &rewrite::Site, &str) -> Result<String, ShipError>,
    location: &Location,
) -> Result<(String, Vec<Object>), ShipError> {
    let mut walker = Walker {
        read,
        code,
        location,
        done: HashMap::new(),
        visiting: Vec::new(),
        objects: Vec::new(),
    };
    let text = walker.rewrite(root)?;
    Ok((text, walker.objects))
}

struct Walker<'a> {
    read: &'a dyn Fn(&str) -> Result<String, ShipError>,
    code: &'a mut dyn FnMut(&str, &rewrite::Site, &str) -> Result<String, ShipError>,
    location: &'a Location,
    /// Nested templates already uploaded, by file: their key.
    done: HashMap<String, String>,
    visiting: Vec<String>,
    objects: Vec<Object>,
}

impl Walker<'_> {
    fn rewrite(&mut self, file: &str) -> Result<String, ShipError> {
        self.visiting.push(file.to_string());
        let text = (self.read)(file)?;
        let root = rewrite::parse(file, &text)?;
        let mut replacements = Vec::new();
        for site in rewrite::sites(&root) {
            let target =
                join_relative(file, &site.path).ok_or_else(|| ShipError::OutsideProject {
                    file: file.to_string(),
                    what: format!("{} of {}", kind_name(site.kind), site.logical_id),
                    path: site.path.clone(),
                })?;
            let value = match site.kind {
                SiteKind::TemplateUrl => {
                    if self.visiting.contains(&target) {
                        return Err(ShipError::Cycle {
                            file: file.to_string(),
                            path: site.path.clone(),
                        });
                    }
                    let key = match self.done.get(&target) {
                        Some(key) => key.clone(),
                        None => {
                            let child = self.rewrite(&target)?;
                            let key = self
                                .location
                                .key(&crate::artifact::hex_sha256(child.as_bytes()), "template");
                            self.done.insert(target.clone(), key.clone());
                            if !self.objects.iter().any(|o| o.key == key) {
                                self.objects.push(Object {
                                    key: key.clone(),
                                    bytes: child.into_bytes(),
                                    what: What::Template { file: target },
                                });
                            }
                            key
                        }
                    };
                    Value::Text(self.location.https_url(&key))
                }
                SiteKind::CodeUri => {
                    let key = (self.code)(file, &site, target.trim_end_matches('/'))?;
                    Value::Text(self.location.s3_uri(&key))
                }
                SiteKind::Code => {
                    let key = (self.code)(file, &site, target.trim_end_matches('/'))?;
                    Value::S3Code {
                        bucket: self.location.bucket.clone(),
                        key,
                    }
                }
            };
            replacements.push(Replacement {
                line: site.line,
                column: site.column,
                value,
            });
        }
        self.visiting.pop();
        rewrite::apply(file, &text, &replacements)
    }
}

fn kind_name(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::CodeUri => "CodeUri",
        SiteKind::Code => "Code",
        SiteKind::TemplateUrl => "TemplateURL",
    }
}

/// Creates the bucket when it is absent, then puts every object not already there.
pub async fn upload(
    clients: &Clients,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<Packaged, ShipError> {
    let bucket = &plan.location.bucket;
    let created_bucket = ensure_bucket(clients, bucket).await?;
    if created_bucket {
        writeln!(out, "created bucket {bucket}")?;
    }
    let mut objects = Vec::with_capacity(plan.objects.len());
    for object in &plan.objects {
        let exists = object_exists(clients, bucket, &object.key).await?;
        if !exists {
            clients
                .s3
                .put_object()
                .bucket(bucket)
                .key(&object.key)
                .body(object.bytes.clone().into())
                .send()
                .await
                .map_err(|e| ShipError::aws("PutObject", e))?;
        }
        writeln!(
            out,
            "{} {} -> {}",
            if exists { "unchanged" } else { "uploaded " },
            object.what,
            plan.location.s3_uri(&object.key)
        )?;
        objects.push(Uploaded {
            key: object.key.clone(),
            what: object.what.clone(),
            uploaded: !exists,
        });
    }
    Ok(Packaged {
        template: plan.template.clone(),
        created_bucket,
        objects,
    })
}

/// `prepare` then `upload`, and the packaged root template written to `output` when given.
pub async fn package(
    clients: &Clients,
    options: &PackageOptions,
    output: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Packaged, ShipError> {
    let plan = prepare(options, &clients.region)?;
    let packaged = upload(clients, &plan, out).await?;
    if let Some(path) = output {
        std::fs::write(path, &packaged.template).map_err(|source| ShipError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(packaged)
}

/// Uploads a root template too large for a request body, next to the nested ones; returns the
/// URL CloudFormation reads it from.
pub async fn upload_root(
    clients: &Clients,
    location: &Location,
    template: &str,
) -> Result<String, ShipError> {
    let key = location.key(
        &crate::artifact::hex_sha256(template.as_bytes()),
        "template",
    );
    if !object_exists(clients, &location.bucket, &key).await? {
        clients
            .s3
            .put_object()
            .bucket(&location.bucket)
            .key(&key)
            .body(template.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| ShipError::aws("PutObject", e))?;
    }
    Ok(location.https_url(&key))
}

/// Whether the bucket had to be created. A bucket that exists but answers 403 belongs to another
/// account or is closed to these credentials: that is an error, not a reason to create one.
pub async fn ensure_bucket(clients: &Clients, bucket: &str) -> Result<bool, ShipError> {
    match clients.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(false),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match status {
                Some(404) => {}
                Some(403) => {
                    return Err(ShipError::BucketForbidden {
                        bucket: bucket.to_string(),
                        message: "403 Forbidden".to_string(),
                    })
                }
                _ => return Err(ShipError::aws("HeadBucket", e)),
            }
        }
    }
    let mut create = clients.s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses an explicit location constraint.
    if clients.region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    clients.region.as_str(),
                ))
                .build(),
        );
    }
    create
        .send()
        .await
        .map_err(|e| ShipError::aws("CreateBucket", e))?;
    Ok(true)
}

async fn object_exists(clients: &Clients, bucket: &str, key: &str) -> Result<bool, ShipError> {
    match clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(false),
        Err(e) => Err(ShipError::aws("HeadObject", e)),
    }
}
