//! The loader: the engine's only window on files. The CLI hands it one that reads the disk; tests
//! may hand it one over a folder of cases. Paths are relative to the root template's folder, with
//! `/` separators, already normalised (no `.` or `..` parts).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("file `{0}` does not exist")]
    NotFound(String),
    #[error("cannot read `{path}`: {message}")]
    Other { path: String, message: String },
}

pub trait Loader {
    /// The text of the file at `path`.
    fn read(&self, path: &str) -> Result<String, LoadError>;
    /// Whether a file or folder exists at `path` (for `CodeUri`).
    fn exists(&self, path: &str) -> bool;
}

/// Joins `rel` onto the folder of `base` (a file path) and normalises the result. Returns `None`
/// when the result would leave the project folder.
pub fn join_relative(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::join_relative;

    #[test]
    fn joins_and_refuses_to_leave_the_project() {
        assert_eq!(
            join_relative("template.yml", "./templates/iam.yml").as_deref(),
            Some("templates/iam.yml")
        );
        assert_eq!(
            join_relative("templates/a.yml", "./../branches/").as_deref(),
            Some("branches")
        );
        assert_eq!(join_relative("templates/a.yml", "../../x.yml"), None);
    }
}
