//! Building functions: for each function whose `Metadata.BuildMethod` is `rust-cargolambda` and
//! whose `CodeUri` is a cargo package (standalone or a workspace member), `cargo build --release`
//! of its binary, copied to `.cascade/build/<LogicalId>/bootstrap` under the project folder.
//!
//! A function is up to date when its `bootstrap` is newer than every file of its package folder
//! (build output and hidden folders aside), of the path dependencies its last build listed, of
//! the `Cargo.lock` it builds with and of the `Cargo.toml` beside that lock (a workspace's root
//! manifest: shared dependencies, their features, profiles); then cargo is not run at all, which
//! keeps `cascade up` quick when nothing changed. `force` rebuilds everything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

/// The build method this module builds.
pub const RUST_CARGOLAMBDA: &str = "rust-cargolambda";

/// One function to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTarget {
    pub logical_id: String,
    /// The absolute `CodeUri` folder.
    pub code_dir: PathBuf,
    /// `Metadata.BuildMethod`.
    pub build_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildStatus {
    Built,
    UpToDate,
    /// Not a `rust-cargolambda` function: its `CodeUri` folder is expected to hold `bootstrap`.
    NotBuilt,
}

/// Where one function's `bootstrap` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildReport {
    pub logical_id: String,
    pub bootstrap: PathBuf,
    pub status: BuildStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("function `{logical_id}`: `{}` has no Cargo.toml (BuildMethod: rust-cargolambda needs a cargo package)", dir.display())]
    NoManifest { logical_id: String, dir: PathBuf },
    #[error("function `{logical_id}`: package `{}` has no binary target", manifest.display())]
    NoBinary {
        logical_id: String,
        manifest: PathBuf,
    },
    #[error("function `{logical_id}`: `{command}` failed ({status}):\n{output}")]
    Cargo {
        logical_id: String,
        command: String,
        status: String,
        output: String,
    },
    #[error("function `{logical_id}`: {what} `{}`: {source}", path.display())]
    Io {
        logical_id: String,
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `.cascade/build` under the project folder.
pub fn build_dir(project_root: &Path) -> PathBuf {
    project_root.join(".cascade").join("build")
}

/// Where the `bootstrap` of a function is: the build output for `rust-cargolambda` functions,
/// the `CodeUri` folder itself otherwise.
pub fn code_dir_of(project_root: &Path, target: &BuildTarget) -> PathBuf {
    if target.build_method.as_deref() == Some(RUST_CARGOLAMBDA) {
        build_dir(project_root).join(&target.logical_id)
    } else {
        target.code_dir.clone()
    }
}

/// Builds what is stale (everything with `force`) and reports where each `bootstrap` is.
pub fn build_functions(
    project_root: &Path,
    targets: &[BuildTarget],
    force: bool,
) -> Result<Vec<BuildReport>, BuildError> {
    targets
        .iter()
        .map(|t| build_one(project_root, t, force))
        .collect()
}

fn build_one(
    project_root: &Path,
    target: &BuildTarget,
    force: bool,
) -> Result<BuildReport, BuildError> {
    let out_dir = code_dir_of(project_root, target);
    let bootstrap = out_dir.join("bootstrap");
    if target.build_method.as_deref() != Some(RUST_CARGOLAMBDA) {
        return Ok(BuildReport {
            logical_id: target.logical_id.clone(),
            bootstrap,
            status: BuildStatus::NotBuilt,
        });
    }
    let id = &target.logical_id;
    let io = |what: &'static str, path: &Path| {
        let (logical_id, path) = (id.clone(), path.to_owned());
        move |source| BuildError::Io {
            logical_id,
            what,
            path,
            source,
        }
    };
    let manifest = target.code_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NoManifest {
            logical_id: id.clone(),
            dir: target.code_dir.clone(),
        });
    }
    if !force && is_up_to_date(&target.code_dir, &bootstrap) {
        return Ok(BuildReport {
            logical_id: id.clone(),
            bootstrap,
            status: BuildStatus::UpToDate,
        });
    }
    let (binary, target_dir, sources) = binary_of(id, &manifest)?;
    cargo(
        id,
        &[
            "build",
            "--release",
            "--manifest-path",
            &manifest.display().to_string(),
            "--bin",
            &binary,
        ],
    )?;
    let built = target_dir.join("release").join(&binary);
    std::fs::create_dir_all(&out_dir).map_err(io("create", &out_dir))?;
    // Copy next to the target and rename, so a running `up` never sees half a file.
    let partial = out_dir.join(".bootstrap.partial");
    std::fs::copy(&built, &partial).map_err(io("copy the built binary", &built))?;
    std::fs::rename(&partial, &bootstrap).map_err(io("write", &bootstrap))?;
    // The folders of the path dependencies, for the next staleness check (a change in a shared
    // library crate rebuilds every function that uses it).
    let listed: String = sources
        .iter()
        .map(|dir| format!("{}\n", dir.display()))
        .collect();
    let list = sources_file(&bootstrap);
    std::fs::write(&list, listed).map_err(io("write", &list))?;
    Ok(BuildReport {
        logical_id: id.clone(),
        bootstrap,
        status: BuildStatus::Built,
    })
}

/// The binary target to build (one named `bootstrap`, else the one named like the package, else
/// the only one), cargo's target folder, and the folders of the package's path dependencies
/// (transitively, as far as the workspace knows them), from `cargo metadata`.
fn binary_of(
    logical_id: &str,
    manifest: &Path,
) -> Result<(String, PathBuf, Vec<PathBuf>), BuildError> {
    let out = cargo(
        logical_id,
        &[
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
            &manifest.display().to_string(),
        ],
    )?;
    let doc: Value = serde_json::from_str(&out).map_err(|e| BuildError::Cargo {
        logical_id: logical_id.to_owned(),
        command: "cargo metadata".into(),
        status: "unreadable output".into(),
        output: e.to_string(),
    })?;
    let canonical = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_owned());
    let package = doc["packages"].as_array().and_then(|ps| {
        ps.iter().find(|p| {
            p["manifest_path"]
                .as_str()
                .map(|m| Path::new(m).canonicalize().ok().as_deref() == Some(&canonical))
                .unwrap_or(false)
        })
    });
    let no_binary = || BuildError::NoBinary {
        logical_id: logical_id.to_owned(),
        manifest: manifest.to_owned(),
    };
    let package = package.ok_or_else(no_binary)?;
    let bins: Vec<&str> = package["targets"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bin"))
                })
                .filter_map(|t| t["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let name = package["name"].as_str().unwrap_or("");
    let binary = bins
        .iter()
        .find(|b| **b == "bootstrap")
        .or_else(|| bins.iter().find(|b| **b == name))
        .or_else(|| (bins.len() == 1).then(|| &bins[0]))
        .ok_or_else(no_binary)?;
    let target_dir = doc["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(no_binary)?;
    Ok((
        binary.to_string(),
        target_dir,
        path_dependencies(&doc, package),
    ))
}

/// The folders of `package`'s path dependencies and theirs (normal and build ones), each once.
fn path_dependencies(doc: &Value, package: &Value) -> Vec<PathBuf> {
    let by_dir = |dir: &Path| {
        doc["packages"].as_array().and_then(|ps| {
            ps.iter().find(|p| {
                p["manifest_path"]
                    .as_str()
                    .and_then(|m| Path::new(m).parent())
                    == Some(dir)
            })
        })
    };
    let mut found: Vec<PathBuf> = Vec::new();
    let mut pending = vec![package];
    while let Some(p) = pending.pop() {
        // Dev-dependencies are not in the binary.
        let deps = p["dependencies"].as_array().into_iter().flatten();
        let built_from = deps.filter(|d| d["kind"].as_str() != Some("dev"));
        for dir in built_from
            .filter_map(|d| d["path"].as_str())
            .map(PathBuf::from)
        {
            if found.contains(&dir) {
                continue;
            }
            if let Some(next) = by_dir(&dir) {
                pending.push(next);
            }
            found.push(dir);
        }
    }
    found
}

/// Where a build lists the path-dependency folders of the `bootstrap` next to it.
fn sources_file(bootstrap: &Path) -> PathBuf {
    bootstrap.with_file_name(".sources")
}

fn cargo(logical_id: &str, args: &[&str]) -> Result<String, BuildError> {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(&program)
        .args(args)
        .output()
        .map_err(|e| BuildError::Cargo {
            logical_id: logical_id.to_owned(),
            command: command.clone(),
            status: "not started".into(),
            output: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        return Err(BuildError::Cargo {
            logical_id: logical_id.to_owned(),
            command,
            status: out.status.to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `bootstrap` exists and is newer than every file of the package, of the path
/// dependencies its build listed, the lock file and the manifest beside it.
pub fn is_up_to_date(code_dir: &Path, bootstrap: &Path) -> bool {
    let Some(built) = modified(bootstrap) else {
        return false;
    };
    // The lock file, and beside it the manifest at the root of the workspace, which holds what
    // every member builds with (shared dependencies and their features, profiles).
    let root = code_dir
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file());
    let changed = |file: &str| {
        root.and_then(|d| modified(&d.join(file)))
            .is_some_and(|m| m > built)
    };
    if changed("Cargo.lock") || changed("Cargo.toml") {
        return false;
    }
    let listed = std::fs::read_to_string(sources_file(bootstrap)).unwrap_or_default();
    std::iter::once(code_dir)
        .chain(listed.lines().map(Path::new))
        .all(|dir| newest(dir).is_none_or(|n| n <= built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files under `dir`, build output and hidden folders aside.
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if let Some(m) = modified(&path) {
                newest = Some(newest.map_or(m, |n: SystemTime| n.max(m)));
            }
        }
    }
    newest
}
