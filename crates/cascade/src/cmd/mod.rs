//! One module per command. Options every project command shares live in [`ProjectArgs`].

pub mod alarms;
pub mod aws;
pub mod build;
pub mod deploy;
pub mod destroy;
pub mod graph;
pub mod invoke;
pub mod logs;
pub mod package;
pub mod plan;
pub mod serve;
pub mod status;
pub mod up;
pub mod validate;

use crate::loader::DiskLoader;
use std::path::PathBuf;
use template::{Options, Project};

/// Which stacks to load, for which environment.
#[derive(clap::Args, Clone, Debug)]
pub struct ProjectArgs {
    /// The root template; nested templates are read relative to it.
    #[arg(long, short = 't', default_value = "template.yml", value_name = "FILE")]
    pub template: PathBuf,
    /// A root template parameter value, as `Name=value` (repeatable).
    #[arg(long = "param", short = 'p', value_name = "K=V", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The region ARNs and queue URLs are built for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The root stack's name (`AWS::StackName`); nested stacks are `<parent>-<LogicalId>`.
    #[arg(long, default_value = "cascade")]
    pub stack_name: String,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not `Name=value`")),
    }
}

impl ProjectArgs {
    /// Loads and resolves the project, with the loader used (to show source lines).
    pub fn load(&self) -> (Project, DiskLoader) {
        let (loader, root) = DiskLoader::for_template(&self.template);
        let mut options = Options {
            region: self.region.clone(),
            stack_name: self.stack_name.clone(),
            ..Options::default()
        };
        options.params.extend(self.params.iter().cloned());
        let project = template::load(&root, &loader, &options);
        (project, loader)
    }
}
