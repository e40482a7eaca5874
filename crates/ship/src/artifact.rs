//! Function code as Lambda wants it: a zip with a `bootstrap` for Rust functions (built by
//! `cargo lambda build --release`), or the whole folder for any other runtime.
//!
//! Zips are deterministic (entries sorted, fixed timestamps, fixed permissions, deflate), so the
//! same code always gives the same bytes and the same SHA-256: that hash is the S3 key, and an
//! unchanged function is never uploaded twice.

use crate::error::ShipError;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// How Rust functions get their `bootstrap`.
#[derive(Clone, Debug)]
pub enum Build {
    /// `cargo lambda build --release`, with this `cargo` program.
    CargoLambda { cargo: String },
    /// No build: the function folder already holds a `bootstrap` (built before, or by CI).
    Prebuilt,
}

impl Default for Build {
    fn default() -> Self {
        Build::CargoLambda {
            cargo: "cargo".to_string(),
        }
    }
}

/// One function's code to upload.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub bytes: Vec<u8>,
    /// Lowercase hex SHA-256 of `bytes`.
    pub sha256: String,
}

impl Artifact {
    fn new(bytes: Vec<u8>) -> Artifact {
        let sha256 = hex_sha256(&bytes);
        Artifact { bytes, sha256 }
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a function folder is built by cargo-lambda: its `Metadata.BuildMethod` says so, or
/// it is a cargo crate.
pub fn is_rust(dir: &Path, build_method: Option<&str>) -> bool {
    build_method == Some("rust-cargolambda") || dir.join("Cargo.toml").is_file()
}

/// Builds (when asked) and zips the function in `dir`. `work` is a scratch folder for the build
/// output of this function.
pub fn prepare(
    logical_id: &str,
    dir: &Path,
    rust: bool,
    arm64: bool,
    build: &Build,
    work: &Path,
) -> Result<Artifact, ShipError> {
    if !rust {
        return zip_folder(dir);
    }
    let bootstrap = match build {
        Build::Prebuilt => dir.join("bootstrap"),
        Build::CargoLambda { cargo } => cargo_lambda_build(cargo, dir, arm64, work)?,
    };
    if !bootstrap.is_file() {
        return Err(ShipError::NoBootstrap {
            logical_id: logical_id.to_string(),
            looked: bootstrap,
        });
    }
    let bytes = std::fs::read(&bootstrap).map_err(|source| ShipError::Read {
        path: bootstrap.clone(),
        source,
    })?;
    zip_entries(&bootstrap, vec![("bootstrap".to_string(), bytes, true)])
}

/// Runs `cargo lambda build --release` for the crate in `dir` into `work`, and returns the one
/// `bootstrap` it produced.
fn cargo_lambda_build(
    cargo: &str,
    dir: &Path,
    arm64: bool,
    work: &Path,
) -> Result<PathBuf, ShipError> {
    let missing = || ShipError::CargoLambdaMissing {
        cargo: cargo.to_string(),
    };
    // Asking for the version first tells "not installed" apart from "the build failed".
    let probe = Command::new(cargo)
        .args(["lambda", "--version"])
        .output()
        .map_err(|_| missing())?;
    if !probe.status.success() {
        return Err(missing());
    }
    // A fresh output folder, so the bootstrap found below is this build's.
    if work.exists() {
        std::fs::remove_dir_all(work).map_err(|source| ShipError::Write {
            path: work.to_path_buf(),
            source,
        })?;
    }
    let status = Command::new(cargo)
        .args(["lambda", "build", "--release"])
        .arg(if arm64 { "--arm64" } else { "--x86-64" })
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--lambda-dir")
        .arg(work)
        .status()
        .map_err(|_| missing())?;
    if !status.success() {
        return Err(ShipError::BuildFailed {
            dir: dir.to_path_buf(),
            status: status.to_string(),
        });
    }
    // cargo-lambda writes `<lambda-dir>/<binary>/bootstrap`; a crate with several binaries is
    // matched by its folder name.
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(work) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("bootstrap");
            if candidate.is_file() {
                found.push(candidate);
            }
        }
    }
    found.sort();
    let wanted = dir.file_name().map(|n| n.to_os_string());
    let chosen = if found.len() == 1 {
        found.pop()
    } else {
        found.into_iter().find(|p| {
            p.parent()
                .and_then(Path::file_name)
                .map(|n| n.to_os_string())
                == wanted
        })
    };
    Ok(chosen.unwrap_or_else(|| work.join("bootstrap")))
}

/// Every file below `dir`, as a zip with paths relative to it.
fn zip_folder(dir: &Path) -> Result<Artifact, ShipError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    zip_entries(dir, files)
}

fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, Vec<u8>, bool)>,
) -> Result<(), ShipError> {
    let read_err = |source| ShipError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|source| ShipError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(&path).map_err(|source| ShipError::Read {
                path: path.clone(),
                source,
            })?;
            out.push((rel, bytes, is_executable(&meta)));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// A deterministic zip of `(name, bytes, executable)` entries. Lambda runs `bootstrap` only when
/// its zip entry carries the executable bit, so permissions are written explicitly.
fn zip_entries(
    origin: &Path,
    entries: Vec<(String, Vec<u8>, bool)>,
) -> Result<Artifact, ShipError> {
    let zip_err = |e: &dyn std::fmt::Display| ShipError::Zip {
        path: origin.to_path_buf(),
        message: e.to_string(),
    };
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes, executable) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        writer.start_file(name, options).map_err(|e| zip_err(&e))?;
        writer.write_all(&bytes).map_err(|e| zip_err(&e))?;
    }
    let cursor = writer.finish().map_err(|e| zip_err(&e))?;
    Ok(Artifact::new(cursor.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(artifact: &Artifact) -> Vec<(String, Option<u32>, String)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(&artifact.bytes)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut f = archive.by_index(i).unwrap();
                let mut text = String::new();
                f.read_to_string(&mut text).unwrap();
                (f.name().to_string(), f.unix_mode().map(|m| m & 0o777), text)
            })
            .collect()
    }

    #[test]
    fn prebuilt_bootstrap_is_zipped_executable_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
        let work = dir.path().join("work");
        let a = prepare("F", dir.path(), true, false, &Build::Prebuilt, &work).unwrap();
        let b = prepare("F", dir.path(), true, false, &Build::Prebuilt, &work).unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.sha256, hex_sha256(&a.bytes));
        assert_eq!(
            entries(&a),
            vec![(
                "bootstrap".to_string(),
                Some(0o755),
                "#!/bin/sh\n".to_string()
            )]
        );
    }

    #[test]
    fn other_runtimes_zip_the_whole_folder_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "u").unwrap();
        std::fs::write(dir.path().join("app.py"), "a").unwrap();
        let a = prepare("F", dir.path(), false, false, &Build::Prebuilt, dir.path()).unwrap();
        let names: Vec<String> = entries(&a).into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["app.py", "lib/util.py"]);
    }

    #[test]
    fn missing_bootstrap_names_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let err = prepare("Fn", dir.path(), true, false, &Build::Prebuilt, dir.path()).unwrap_err();
        assert!(matches!(err, ShipError::NoBootstrap { ref logical_id, .. } if logical_id == "Fn"));
    }

    #[test]
    fn missing_cargo_lambda_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"f\"\n").unwrap();
        let build = Build::CargoLambda {
            cargo: dir.path().join("no-such-cargo").display().to_string(),
        };
        let err = prepare("F", dir.path(), true, false, &build, &dir.path().join("w")).unwrap_err();
        assert!(matches!(err, ShipError::CargoLambdaMissing { .. }));
        assert!(
            err.to_string().contains("pip install cargo-lambda"),
            "{err}"
        );
    }
}
