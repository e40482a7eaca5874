//! A loader over a folder on disk (the engine does no IO itself) and the renderings tests compare.

use std::path::{Path, PathBuf};
use template::{LoadError, Loader, Options, Project};

pub struct DirLoader {
    pub root: PathBuf,
}

impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(self.root.join(path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_string()),
            _ => LoadError::Other {
                path: path.to_string(),
                message: e.to_string(),
            },
        })
    }

    fn exists(&self, path: &str) -> bool {
        self.root.join(path).exists()
    }
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Loads the project in `dir` with `params` (`K=V` lines of `dir/params`, when present).
pub fn load_dir(dir: &Path, root: &str) -> Project {
    let mut options = Options::default();
    if let Ok(text) = std::fs::read_to_string(dir.join("params")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').expect("params lines are K=V");
            options
                .params
                .insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    template::load(
        root,
        &DirLoader {
            root: dir.to_path_buf(),
        },
        &options,
    )
}

/// Diagnostics, then resources in deployment order with their `Ref` value, then exports.
pub fn render(p: &Project) -> String {
    let mut out = format!(
        "stacks: {}, resources: {}\n",
        p.stacks.len(),
        p.resource_count()
    );
    for d in &p.diagnostics {
        out.push_str(&format!("{d}\n"));
    }
    out.push_str("order:\n");
    for (s, r) in p.deployment_order() {
        out.push_str(&format!(
            "  {} {} ref={}\n",
            s.qualified(&r.logical_id),
            r.type_,
            r.ref_value
        ));
    }
    if !p.exports.is_empty() {
        out.push_str("exports:\n");
        for e in p.exports.values() {
            out.push_str(&format!("  {} = {}\n", e.name, e.value));
        }
    }
    out
}
