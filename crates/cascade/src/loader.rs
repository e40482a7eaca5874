//! The loader the CLI hands the template engine: files under the root template's folder on disk.
//! The engine never touches the file system itself.

use std::path::{Path, PathBuf};
use template::{LoadError, Loader};

pub struct DiskLoader {
    pub root: PathBuf,
}

impl DiskLoader {
    /// A loader for the folder of `template`, and the template's file name within it.
    pub fn for_template(template: &Path) -> (DiskLoader, String) {
        let folder = template
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = template
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            DiskLoader {
                root: folder.to_path_buf(),
            },
            name,
        )
    }
}

impl Loader for DiskLoader {
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
