//! The AWS clients: credentials and region from the standard chain (environment, profile, web
//! identity for OIDC in CI, container and instance roles), with explicit overrides.
//!
//! The HTTPS client is hyper with rustls on the `ring` provider: the SDK's default client uses
//! aws-lc-rs, whose build needs cmake and a long C compile; `ring` builds with the C compiler
//! alone. Plain `http://` endpoints (a local moto server) work through the same client.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where and as whom to talk to AWS.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// Overrides the chain's region.
    pub region: Option<String>,
    /// Sends every request here instead of AWS's endpoints (moto, a proxy). S3 then uses
    /// path-style addressing, which local servers expect.
    pub endpoint_url: Option<String>,
    /// Overrides the chain with fixed keys (tests against a local server).
    pub static_credentials: Option<(String, String)>,
}

/// The region used when neither the options nor the chain name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The clients of one run, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// The region in effect (for S3 URLs and the bucket's location).
    pub region: String,
}

impl Clients {
    pub async fn connect(options: &AwsOptions) -> Clients {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((key, secret)) = &options.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                key.clone(),
                secret.clone(),
                None,
                None,
                "cascade",
            ));
        }
        let mut config = loader.load().await;
        if config.region().is_none() {
            config = config
                .into_builder()
                .region(Region::new(DEFAULT_REGION))
                .build();
        }
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(options.endpoint_url.is_some())
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            cloudformation: aws_sdk_cloudformation::Client::new(&config),
            region,
        }
    }
}
