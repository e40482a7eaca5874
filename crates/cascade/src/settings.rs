//! `cascade.toml`: the project settings that are not stacks, next to the root template.
//!
//! The templates say what runs on AWS; this file says what a local environment needs around it:
//! companion processes that stand in for systems outside the stacks (the demo vendor API for
//! `dev`) and parameter values per environment (a real vendor URL for `prod`). The engine has no
//! special case for either: `cascade up` starts every companion listed for the environment and
//! passes the parameters to the stacks. A missing file means no companions and no parameters.
//!
//! ```toml
//! [companions.vendor-api]
//! environments = ["dev"]            # empty or absent: every environment
//! command = ["cargo", "run", "--release", "--quiet", "-p", "vendor-api"]
//! ready = "listening on "           # a line of its output that says it is ready
//!
//! [environments.prod.parameters]
//! VendorApiUrl = "https://vendor.example.com"
//! ```

use indexmap::IndexMap;
use serde::Deserialize;
use std::path::Path;

/// The settings file's name, in the root template's folder.
pub const FILE: &str = "cascade.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub companions: IndexMap<String, Companion>,
    #[serde(default)]
    pub environments: IndexMap<String, Environment>,
}

/// A process `cascade up` starts before deploying, and stops when it stops.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Companion {
    /// Program and arguments, run in the project folder.
    pub command: Vec<String>,
    /// The environments it runs for; empty means every one.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Text of an output line that says the process is ready; absent: ready once started.
    pub ready: Option<String>,
    /// How long to wait for the ready line (a first `cargo run --release` compiles).
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_secs: u64,
}

fn default_ready_timeout() -> u64 {
    600
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Root stack parameter values; `--param` on the command line wins.
    #[serde(default)]
    pub parameters: IndexMap<String, String>,
}

impl Settings {
    /// Reads `cascade.toml` from `dir`; a missing file gives the defaults. Errors name the file
    /// and the line and column of the problem.
    pub fn load(dir: &Path) -> anyhow::Result<Settings> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(anyhow::anyhow!("read `{}`: {e}", path.display())),
        };
        Settings::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Settings> {
        let settings: Settings = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|span| line_col(text, span.start))
                .unwrap_or((1, 1));
            anyhow::anyhow!(
                "{}:{line}:{col}: {}",
                path.display(),
                e.message().trim_end()
            )
        })?;
        for (name, companion) in &settings.companions {
            if companion
                .command
                .first()
                .is_none_or(|p| p.trim().is_empty())
            {
                anyhow::bail!(
                    "{}: companion `{name}` has an empty `command`",
                    path.display()
                );
            }
        }
        Ok(settings)
    }

    /// The companions of `env`, in file order.
    pub fn companions_for<'a>(
        &'a self,
        env: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Companion)> + 'a {
        self.companions.iter().filter(move |(_, c)| {
            c.environments.is_empty() || c.environments.iter().any(|e| e == env)
        })
    }

    /// The parameter values `env` sets.
    pub fn parameters_for(&self, env: &str) -> IndexMap<String, String> {
        self.environments
            .get(env)
            .map(|e| e.parameters.clone())
            .unwrap_or_default()
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Settings> {
        Settings::parse(text, Path::new("cascade.toml"))
    }

    #[test]
    fn companions_are_chosen_per_environment() {
        let s = parse(
            "[companions.vendor]\nenvironments = [\"dev\"]\ncommand = [\"vendor-api\"]\nready = \"listening on \"\n\
             [companions.everywhere]\ncommand = [\"sleep\", \"60\"]\n\
             [environments.prod.parameters]\nVendorApiUrl = \"https://vendor.example.com\"\n",
        )
        .unwrap();
        let dev: Vec<_> = s.companions_for("dev").map(|(n, _)| n.as_str()).collect();
        let prod: Vec<_> = s.companions_for("prod").map(|(n, _)| n.as_str()).collect();
        assert_eq!(dev, ["vendor", "everywhere"]);
        assert_eq!(prod, ["everywhere"]);
        assert_eq!(
            s.parameters_for("prod")
                .get("VendorApiUrl")
                .map(String::as_str),
            Some("https://vendor.example.com")
        );
        assert!(s.parameters_for("dev").is_empty());
        assert_eq!(s.companions["vendor"].ready_timeout_secs, 600);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("[companions.vendor]\ncommand = [\"x\"]\nreddy = \"y\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("cascade.toml:3:1: "), "{text}");
        assert!(text.contains("reddy"), "{text}");
        let e = parse("[companions.vendor]\ncommand = []\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("companion `vendor` has an empty `command`"),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_settings_parse_and_start_the_vendor_api_for_dev_only() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let s = Settings::load(&root).unwrap();
        assert_eq!(s.companions_for("dev").count(), 1);
        assert_eq!(s.companions_for("prod").count(), 0);
    }
}
