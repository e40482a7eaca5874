//! The local cloud of one environment assembled from the library crates: one store, one set of
//! engines behind the endpoint, the deployed stacks, and the Lambda service reading its functions
//! and triggers from the deployed registry. `up`, `invoke` and `logs` all open it here, so every
//! command sees the same engines wired the same way.
//!
//! The wiring, once: the deployer works on the endpoint's own SQS and DynamoDB engines (one
//! engine per store, so a long poll wakes on every send); functions get keys issued for their
//! role, which the endpoint verifies and checks against the role's policies (`iam`); the Lambda
//! service's datapoints go to CloudWatch; alarms, topics and roles are synced from the registry
//! after each deploy.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::{Clock, Store, SystemClock};

/// The engines of one environment on its store.
pub struct Local {
    pub services: api::Services,
    pub deployer: stacks::Deployer,
    pub clock: Arc<dyn Clock>,
}

impl Local {
    /// Opens `state_dir/state.db` on the system clock.
    pub fn open(state_dir: &Path) -> anyhow::Result<Local> {
        let path = state_dir.join(api::STORE_FILE);
        let store = Store::open(&path, store::Options::default())
            .with_context(|| format!("open the store `{}`", path.display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let services = api::Services::new(store.clone(), Arc::clone(&clock))?;
        let deployer = stacks::Deployer::with_engines(
            store,
            Arc::clone(&clock),
            services.sqs.clone(),
            services.dynamodb.clone(),
        )
        .with_context(|| format!("open the deployed stacks in `{}`", path.display()))?;
        Ok(Local {
            services,
            deployer,
            clock,
        })
    }

    /// Makes alarms, topics and roles the deployed set, and the tables' streams the ones deployed.
    pub fn sync(&self) -> anyhow::Result<()> {
        self.deployer
            .align_streams()
            .context("align the tables' streams with the deployed stacks")?;
        let registry = self.deployer.registry();
        let of = |t: &str| {
            registry
                .resources_of_type(t)
                .with_context(|| format!("read the deployed {t} resources"))
        };
        let alarms = of("AWS::CloudWatch::Alarm")?
            .iter()
            .map(|r| {
                api::cloudwatch::AlarmSpec::from_resource(&r.physical_id, &r.properties)
                    .map_err(|e| anyhow::anyhow!("alarm `{}/{}`: {e}", r.stack, r.logical_id))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.services
            .cloudwatch
            .put_alarms(&alarms)
            .map_err(|e| anyhow::anyhow!("sync the alarms: {e}"))?;
        let topics = of("AWS::SNS::Topic")?
            .iter()
            .map(|r| {
                let arn = r.arn.clone().unwrap_or_else(|| r.physical_id.clone());
                api::sns::TopicSpec::from_cfn(&arn, &r.properties)
                    .map_err(|e| anyhow::anyhow!("topic `{}/{}`: {e}", r.stack, r.logical_id))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let subscriptions = of("AWS::SNS::Subscription")?
            .iter()
            .map(|r| {
                api::sns::SubscriptionSpec::from_cfn(&r.properties).map_err(|e| {
                    anyhow::anyhow!("subscription `{}/{}`: {e}", r.stack, r.logical_id)
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.services
            .sns
            .sync_deployed(&topics, &subscriptions)
            .map_err(|e| anyhow::anyhow!("sync the topics: {e}"))?;
        let roles: Vec<(String, serde_json::Value)> = of("AWS::IAM::Role")?
            .into_iter()
            .map(|r| (r.physical_id, r.properties))
            .collect();
        let mut policies: Vec<(String, serde_json::Value)> = Vec::new();
        for t in ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"] {
            policies.extend(of(t)?.into_iter().map(|r| (r.logical_id, r.properties)));
        }
        let iam_roles = api::iam::Roles::new(&self.services.sqs.config().account_id);
        let sets = iam_roles
            .from_cfn(&roles, &policies)
            .map_err(|e| anyhow::anyhow!("read the deployed roles: {e}"))?;
        iam_roles.replace_all(sets);
        self.services
            .authorizer
            .set(Some(Arc::new(api::IamAuthorizer::new(iam_roles))));
        Ok(())
    }

    /// Starts the Lambda service with the deployed functions and triggers; `endpoint_url` is
    /// what functions get as `AWS_ENDPOINT_URL`. A function's `bootstrap` is read from the build
    /// folder of `project_root` for `rust-cargolambda` functions, from its `CodeUri` otherwise.
    /// Triggers (mappings, schedules) start only `with_triggers`. Returns the service and the
    /// names of the schedule rules it runs; the endpoint's Lambda API answers from the service
    /// from then on. Must run inside a tokio runtime.
    pub fn start_lambda(
        &self,
        project_root: &Path,
        endpoint_url: &str,
        with_triggers: bool,
    ) -> anyhow::Result<(lambda::Lambda, Vec<String>)> {
        let resources = self
            .deployer
            .registry()
            .resources()
            .context("read the deployed resources")?;
        let code_dirs: Vec<Option<PathBuf>> = resources
            .iter()
            .map(|r| {
                r.code_dir.as_ref().map(|dir| {
                    lambda::build::code_dir_of(project_root, &build_target(r, dir.clone()))
                })
            })
            .collect();
        let config = self.services.sqs.config();
        let definitions = lambda::definitions(
            resources
                .iter()
                .zip(&code_dirs)
                .map(|(r, code_dir)| lambda::CfnResource {
                    type_: &r.type_,
                    logical_id: &r.logical_id,
                    physical_id: &r.physical_id,
                    arn: r.arn.as_deref(),
                    properties: &r.properties,
                    code_dir: code_dir.as_deref(),
                }),
            &config.region,
            &config.account_id,
        )
        .map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            anyhow::anyhow!("the deployed functions cannot run:\n{}", lines.join("\n"))
        })?;
        let deps = lambda::Deps {
            store: self.services.sqs.store().clone(),
            clock: Arc::clone(&self.clock),
            sqs: self.services.sqs.clone(),
            dynamodb: self.services.dynamodb.clone(),
            credentials: Arc::new(IssuedKeys {
                keys: self.services.keys.clone(),
            }),
            metrics: Arc::new(ToCloudWatch::start(self.services.cloudwatch.clone())),
        };
        let lambda_config = lambda::Config {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            endpoint_url: Some(endpoint_url.to_string()),
            ..lambda::Config::default()
        };
        let mut rules: Vec<String> = definitions
            .triggers
            .schedules
            .iter()
            .map(|s| s.rule.clone())
            .collect();
        rules.dedup();
        let service = lambda::Lambda::new(deps, lambda_config, definitions.functions)
            .context("start the functions")?;
        // The endpoint's Lambda API answers from the running service.
        self.services.functions.set(Some(service.clone()));
        if with_triggers {
            service
                .start_triggers(definitions.triggers)
                .context("start the triggers")?;
        }
        Ok((service, rules))
    }
}

fn build_method(metadata: Option<&serde_json::Value>) -> Option<String> {
    metadata
        .and_then(|m| m.get("BuildMethod"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
}

/// What `cascade build` builds for a deployed function with a local folder.
pub fn build_target(r: &stacks::DeployedResource, code_dir: PathBuf) -> lambda::build::BuildTarget {
    lambda::build::BuildTarget {
        logical_id: r.logical_id.clone(),
        code_dir,
        build_method: build_method(r.metadata.as_ref()),
    }
}

/// Issues one key pair per function, registered with the endpoint for the function's role, so
/// each request the function makes is verified and checked against that role's policies.
struct IssuedKeys {
    keys: api::KeyRegistry,
}

impl lambda::CredentialsIssuer for IssuedKeys {
    fn credentials_for(&self, function: &str, role_arn: Option<&str>) -> lambda::Credentials {
        let access_key_id = format!("ASIA{}", hex_token(function, 16).to_uppercase());
        let secret_access_key = hex_token(&format!("{function}/secret"), 40);
        if let Some(role) = role_arn {
            let name = role.rsplit('/').next().unwrap_or(role);
            self.keys.insert(&access_key_id, &secret_access_key, name);
        }
        lambda::Credentials {
            access_key_id,
            secret_access_key,
            session_token: None,
        }
    }
}

/// A fresh random-looking token of `len` hex digits; it only has to differ between functions and
/// runs, not resist an attacker on the same machine (the endpoint is loopback-only by default).
fn hex_token(salt: &str, len: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        let mut h = RandomState::new().build_hasher();
        h.write(salt.as_bytes());
        h.write_usize(out.len());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(len);
    out
}

/// The Lambda service's datapoints into CloudWatch. `put` is on the invocation path, so it only
/// queues; a thread records what has queued in one store write about every 200 ms.
struct ToCloudWatch(std::sync::Mutex<std::sync::mpsc::Sender<lambda::Datapoint>>);

impl ToCloudWatch {
    fn start(cloudwatch: api::cloudwatch::CloudWatch) -> ToCloudWatch {
        let (tx, rx) = std::sync::mpsc::channel::<lambda::Datapoint>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let mut by_namespace: std::collections::BTreeMap<&'static str, Vec<_>> =
                    std::collections::BTreeMap::new();
                for d in std::iter::once(first).chain(rx.try_iter()) {
                    by_namespace.entry(d.namespace).or_default().push(datum(&d));
                }
                for (namespace, data) in by_namespace {
                    if let Err(e) = cloudwatch.record(namespace, &data) {
                        tracing::warn!(error = %e, namespace, "recording Lambda datapoints failed");
                    }
                }
            }
        });
        ToCloudWatch(std::sync::Mutex::new(tx))
    }
}

fn datum(d: &lambda::Datapoint) -> api::cloudwatch::MetricDatum {
    api::cloudwatch::MetricDatum {
        metric_name: d.metric_name.to_string(),
        dimensions: d
            .dimensions
            .iter()
            .map(|(k, v)| api::cloudwatch::Dimension::new(k, v))
            .collect(),
        value: Some(d.value),
        values: Vec::new(),
        counts: Vec::new(),
        statistic_values: None,
        unit: Some(d.unit.to_string()),
        timestamp_ms: Some(d.timestamp_ms),
        storage_resolution: None,
    }
}

impl lambda::MetricsSink for ToCloudWatch {
    fn put(&self, d: lambda::Datapoint) {
        let _ = self.0.lock().unwrap_or_else(|e| e.into_inner()).send(d);
    }
}
