//! The local deploy against real engines on a real store: each test deploys templates from
//! `tests/data` (copied into a temporary folder when the test edits them) and checks the queues
//! and tables in the `sqs` and `dynamodb` engines and the registry.
//!
//! `Env::deploy` is the one check helper: it loads the project the way the CLI does, fails the
//! test on a template error, and deploys.

mod changes;
mod crash;
mod deploy;
mod rules;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stacks::{DeployOptions, Deployer, Desired, Outcome, StackEvent, StacksError};
use store::{ManualClock, Options, Store};
use template::{LoadError, Loader};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Files under one folder, as the CLI's loader reads them.
pub struct Folder(pub PathBuf);

impl Loader for Folder {
    fn read(&self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(self.0.join(path)).map_err(|_| LoadError::NotFound(path.into()))
    }
    fn exists(&self, path: &str) -> bool {
        self.0.join(path).exists()
    }
}

/// A copy of a fixture folder that a test may edit.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn copy(fixture: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        for entry in std::fs::read_dir(data(fixture)).expect("fixture") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
        }
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces `from` (which must be there) with `to` in one file.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.path().join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "`{from}` not in {file}");
        std::fs::write(&path, text.replace(from, to)).expect("write");
    }
}

/// One environment: a store in a temporary folder, a manual clock, and the deployer.
pub struct Env {
    pub _dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub deployer: Deployer,
}

impl Default for Env {
    fn default() -> Env {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("state.db"), Options::default()).expect("store");
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let deployer = Deployer::new(store.clone(), clock.clone()).expect("deployer");
        Env {
            _dir: dir,
            store,
            clock,
            deployer,
        }
    }

    /// Deploys the project whose root template is `root/template.yml`, collecting the events.
    pub fn deploy(
        &self,
        root: &Path,
        env: &str,
        allow_data_loss: bool,
    ) -> (Result<Outcome, StacksError>, Vec<StackEvent>) {
        let desired = desired(root, env);
        let mut events = Vec::new();
        self.clock.advance_millis(1_000);
        let options = DeployOptions {
            allow_data_loss,
            after_step: None,
        };
        let outcome = self
            .deployer
            .deploy(&desired, &options, &mut |e| events.push(e.clone()));
        (outcome, events)
    }

    pub fn plan(&self, root: &Path, env: &str) -> Result<stacks::ChangeSet, StacksError> {
        self.deployer.plan(&desired(root, env))
    }

    pub fn queue_attributes(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        self.deployer
            .sqs()
            .get_queue_attributes(name, &["All".to_string()])
            .unwrap_or_else(|e| panic!("queue {name}: {e}"))
    }

    pub fn queue_exists(&self, name: &str) -> bool {
        self.deployer.sqs().get_queue_url("http://x", name).is_ok()
    }

    pub fn table_exists(&self, name: &str) -> bool {
        self.deployer.dynamodb().describe_table(name).is_ok()
    }

    pub fn statuses(&self) -> Vec<String> {
        self.deployer
            .registry()
            .stacks()
            .expect("stacks")
            .iter()
            .map(|s| format!("{} {}", s.name, s.status))
            .collect()
    }
}

/// The project at `root/template.yml` for environment `env`, refusing template errors.
pub fn desired(root: &Path, env: &str) -> Desired {
    let loader = Folder(root.to_path_buf());
    let mut options = template::Options::default();
    options.params.insert("Environment".into(), env.into());
    let project = template::load("template.yml", &loader, &options);
    let errors: Vec<String> = project
        .diagnostics
        .iter()
        .filter(|d| d.severity == template::Severity::Error)
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(errors.is_empty(), "template errors: {errors:#?}");
    Desired::from_project(&project, &loader, root)
}

/// `stack status` lines of the events, oldest first, for one logical id.
pub fn statuses_of(events: &[StackEvent], logical_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.logical_id == logical_id)
        .map(|e| e.status.clone())
        .collect()
}
