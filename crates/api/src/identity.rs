//! Who is calling: the access key of the SigV4 signature, and the keys the engine issued.
//!
//! Any access key is the local administrator, as with every local AWS emulator, except a key in
//! the [`KeyRegistry`]: the engine issues those (to functions, in time) and checks their
//! signatures, so the [`Identity`] a request carries can be trusted by IAM. When the endpoint is
//! bound to a non-loopback address it demands the auth token: either in the
//! `x-cascade-auth-token` header or as the secret key the request is signed with, so that an
//! unmodified AWS SDK or CLI works by setting `AWS_SECRET_ACCESS_KEY` to the token.
//!
//! Layout: [`KeyRegistry`] and [`Identity`], then [`SigV4`] (parsing the `Authorization` header or
//! the presigned query string) and [`SigV4::verify`] (AWS's canonical request and signing key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use hmac::{Hmac, Mac};
use hyper::http::request::Parts;
use sha2::{Digest, Sha256};

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The access key of the signature; empty for an unsigned request.
    pub access_key: String,
    pub principal: Principal,
}

/// What a caller may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Any key the engine did not issue: allowed everything.
    Administrator,
    /// A key the engine issued, with its signature verified; `name` is the principal it was
    /// issued to (a function's role, for example).
    Issued { name: String },
}

/// One key the engine issued.
#[derive(Debug)]
struct IssuedKey {
    secret: String,
    principal: String,
    /// The signing key of the last scope verified (`YYYYMMDD/region/service/aws4_request`): a
    /// function signs every request of a day with the same one, and deriving it is four HMACs.
    signing_key: Mutex<Option<(String, [u8; 32])>>,
}

impl IssuedKey {
    /// The signing key of `scope`, derived once per scope.
    fn signing_key(&self, scope: &str) -> Option<[u8; 32]> {
        let mut cached = self.signing_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((for_scope, key)) = cached.as_ref() {
            if for_scope == scope {
                return Some(*key);
            }
        }
        let key = signing_key(&self.secret, scope)?;
        *cached = Some((scope.to_owned(), key));
        Some(key)
    }
}

/// The access keys the engine issued, with their secrets. Cheap to clone; clones share the keys.
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    /// A `std::sync::RwLock`: it is held only to look up or insert a key, never across an await.
    keys: Arc<RwLock<HashMap<String, Arc<IssuedKey>>>>,
}

impl KeyRegistry {
    /// Registers `access_key` with `secret` for `principal`; requests signed with it are then
    /// verified and carry that principal.
    pub fn insert(&self, access_key: &str, secret: &str, principal: &str) {
        self.keys.write().unwrap_or_else(|e| e.into_inner()).insert(
            access_key.to_owned(),
            Arc::new(IssuedKey {
                secret: secret.to_owned(),
                principal: principal.to_owned(),
                signing_key: Mutex::new(None),
            }),
        );
    }

    /// Forgets a key; it becomes an administrator key again.
    pub fn remove(&self, access_key: &str) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(access_key);
    }

    fn get(&self, access_key: &str) -> Option<Arc<IssuedKey>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(access_key)
            .cloned()
    }
}

/// Why a request was refused before it reached a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The endpoint demands its auth token and the request carries none that matches.
    MissingToken,
    /// An issued key whose signature does not verify, or a malformed signature.
    BadSignature(String),
}

/// Finds the caller of a request, checking what the configuration demands.
pub fn authenticate(
    parts: &Parts,
    body: &[u8],
    keys: &KeyRegistry,
    auth_token: Option<&str>,
) -> Result<Identity, AuthError> {
    let signature = SigV4::from_request(parts);
    let issued = signature
        .as_ref()
        .and_then(|s| keys.get(&s.access_key).map(|k| (s, k)));
    if let Some((signature, key)) = issued {
        let verified = key
            .signing_key(&signature.scope)
            .is_some_and(|signing| signature.verify_with(parts, body, &signing));
        if !verified {
            return Err(AuthError::BadSignature(format!(
                "The request signature we calculated does not match the signature you provided for access key `{}`",
                signature.access_key
            )));
        }
        return Ok(Identity {
            access_key: signature.access_key.clone(),
            principal: Principal::Issued {
                name: key.principal.clone(),
            },
        });
    }
    if let Some(token) = auth_token {
        let header_ok = parts
            .headers
            .get("x-cascade-auth-token")
            .is_some_and(|v| constant_eq(v.as_bytes(), token.as_bytes()));
        let signed_ok = signature
            .as_ref()
            .is_some_and(|s| s.verify(parts, body, token));
        if !header_ok && !signed_ok {
            return Err(AuthError::MissingToken);
        }
    }
    Ok(Identity {
        access_key: signature.map(|s| s.access_key).unwrap_or_default(),
        principal: Principal::Administrator,
    })
}

/// The parts of a SigV4 signature, from the `Authorization` header or a presigned query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key: String,
    /// `YYYYMMDD/region/service/aws4_request`.
    pub scope: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// The `X-Amz-Date` of the signature (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// Whether the signature came in the query string (it is then left out of the canonical query).
    presigned: bool,
}

impl SigV4 {
    /// The signature of a request, if it carries one that parses.
    pub fn from_request(parts: &Parts) -> Option<SigV4> {
        if let Some(header) = parts.headers.get("authorization") {
            return SigV4::from_header(header.to_str().ok()?, parts);
        }
        let query = parts.uri.query()?;
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let credential = params.get("X-Amz-Credential")?;
        let (access_key, scope) = credential.split_once('/')?;
        Some(SigV4 {
            access_key: access_key.to_owned(),
            scope: scope.to_owned(),
            signed_headers: params
                .get("X-Amz-SignedHeaders")
                .map(|h| h.split(';').map(str::to_owned).collect())
                .unwrap_or_default(),
            signature: params.get("X-Amz-Signature").cloned().unwrap_or_default(),
            amz_date: params.get("X-Amz-Date").cloned().unwrap_or_default(),
            presigned: true,
        })
    }

    fn from_header(header: &str, parts: &Parts) -> Option<SigV4> {
        let rest = header.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
        let mut credential = None;
        let mut signed_headers = Vec::new();
        let mut signature = String::new();
        for field in rest.split(',') {
            let (name, value) = field.trim().split_once('=')?;
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => {
                    signed_headers = value.split(';').map(str::to_owned).collect();
                }
                "Signature" => signature = value.to_owned(),
                _ => {}
            }
        }
        let (access_key, scope) = credential?.split_once('/')?;
        let amz_date = parts
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Some(SigV4 {
            access_key: access_key.to_owned(),
            scope: scope.to_owned(),
            signed_headers,
            signature,
            amz_date,
            presigned: false,
        })
    }

    /// Whether the signature is the one `secret` gives for this request.
    pub fn verify(&self, parts: &Parts, body: &[u8], secret: &str) -> bool {
        signing_key(secret, &self.scope)
            .is_some_and(|signing| self.verify_with(parts, body, &signing))
    }

    /// [`SigV4::verify`] with the signing key of the signature's scope already derived.
    fn verify_with(&self, parts: &Parts, body: &[u8], signing_key: &[u8; 32]) -> bool {
        self.expected_with(parts, body, signing_key)
            .is_some_and(|expected| constant_eq(expected.as_bytes(), self.signature.as_bytes()))
    }

    /// The signature `secret` gives for this request, or `None` when the request cannot be
    /// verified: a malformed scope, or a signed payload hash that is not the body's.
    #[cfg(test)]
    fn expected(&self, parts: &Parts, body: &[u8], secret: &str) -> Option<String> {
        self.expected_with(parts, body, &signing_key(secret, &self.scope)?)
    }

    fn expected_with(&self, parts: &Parts, body: &[u8], signing_key: &[u8; 32]) -> Option<String> {
        let canonical = self.canonical_request(parts, body)?;
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        Some(hex(&hmac(signing_key, string_to_sign.as_bytes())))
    }

    fn canonical_request(&self, parts: &Parts, body: &[u8]) -> Option<String> {
        let path = parts.uri.path();
        let canonical_uri = if path.is_empty() {
            "/".to_owned()
        } else {
            uri_encode(path, false)
        };
        let mut query: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .filter(|(k, _)| !(self.presigned && k == "X-Amz-Signature"))
                .map(|(k, v)| (uri_encode(&k, true), uri_encode(&v, true)))
                .collect();
        query.sort();
        let canonical_query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        // Each header as `name:value[,value...]`, every value trimmed and its runs of whitespace
        // made one space.
        let mut canonical_headers = String::with_capacity(512);
        for name in &self.signed_headers {
            canonical_headers.push_str(name);
            canonical_headers.push(':');
            for (i, value) in parts.headers.get_all(name.as_str()).iter().enumerate() {
                if i > 0 {
                    canonical_headers.push(',');
                }
                let value = String::from_utf8_lossy(value.as_bytes());
                for (j, word) in value.split_whitespace().enumerate() {
                    if j > 0 {
                        canonical_headers.push(' ');
                    }
                    canonical_headers.push_str(word);
                }
            }
            canonical_headers.push('\n');
        }
        // A client may send the payload's hash in `x-amz-content-sha256` (S3's SDKs do), and the
        // signature then covers that header rather than the body: it must be the body's hash, or
        // a body changed on the way would verify. `UNSIGNED-PAYLOAD` leaves the body unsigned, as
        // on AWS.
        let body_hash = || hex(&Sha256::digest(body));
        let payload_hash = match parts
            .headers
            .get("x-amz-content-sha256")
            .map(|v| v.to_str().ok())
        {
            None => body_hash(),
            Some(Some("UNSIGNED-PAYLOAD")) => "UNSIGNED-PAYLOAD".to_owned(),
            Some(Some(claimed)) if claimed.eq_ignore_ascii_case(&body_hash()) => claimed.to_owned(),
            Some(_) => return None,
        };
        Some(format!(
            "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{}\n{payload_hash}",
            parts.method,
            self.signed_headers.join(";")
        ))
    }
}

/// SigV4's signing key of `scope` (`YYYYMMDD/region/service/aws4_request`); `None` for a scope
/// that lacks a part.
fn signing_key(secret: &str, scope: &str) -> Option<[u8; 32]> {
    let mut parts = scope.split('/');
    let (date, region, service) = (parts.next()?, parts.next()?, parts.next()?);
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    Some(hmac(&key, b"aws4_request"))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// SigV4's URI encoding: every byte but the unreserved ones as `%XX`; `/` kept in paths.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Compares secrets without an early exit, so timing does not reveal how much matched.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "get-vanilla" example of AWS's SigV4 test suite, signed with its documented secret.
    #[test]
    fn verifies_the_aws_test_suite_vanilla_request() {
        let request = hyper::Request::builder()
            .method("GET")
            .uri("/")
            .header("host", "example.amazonaws.com")
            .header("x-amz-date", "20150830T123600Z")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            )
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let signature = SigV4::from_request(&parts).unwrap();
        assert_eq!(signature.access_key, "AKIDEXAMPLE");
        assert!(signature.verify(&parts, b"", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"));
        assert!(!signature.verify(&parts, b"", "another secret"));
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// A POST of `body` with one more signed header (`name: value`), signed for `scope`
    /// (`YYYYMMDD/region/service/aws4_request`) with `secret` by this module's own signer.
    fn signed_post(scope: &str, (name, value): (&str, &str), body: &[u8], secret: &str) -> Parts {
        let mut names = ["host", "x-amz-date", name];
        names.sort_unstable();
        let signed_headers = names.join(";");
        let request = |signature: &str| {
            hyper::Request::builder()
                .method("POST")
                .uri("/")
                .header("host", "example.amazonaws.com")
                .header("x-amz-date", format!("{}T123600Z", &scope[..8]))
                .header(name, value)
                .header(
                    "authorization",
                    format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, SignedHeaders={signed_headers}, Signature={signature}"),
                )
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        let unsigned = request("0");
        let signature = SigV4::from_request(&unsigned)
            .unwrap()
            .expected(&unsigned, body, secret)
            .unwrap();
        request(&signature)
    }

    /// An issued key's signing key is derived once per scope: a request of another day or
    /// service verifies with its own, and a key issued again with a new secret drops the old.
    #[test]
    fn issued_keys_verify_each_scope_with_its_own_signing_key() {
        let target = ("x-amz-target", "DynamoDB_20120810.ListTables");
        let signed = |scope: &str, secret: &str| signed_post(scope, target, b"{}", secret);
        let keys = KeyRegistry::default();
        keys.insert("AKIDEXAMPLE", SECRET, "function/f");
        let verified = |parts: &Parts| authenticate(parts, b"{}", &keys, None).is_ok();
        let day1 = "20150830/us-east-1/dynamodb/aws4_request";
        let day2 = "20150831/us-east-1/dynamodb/aws4_request";
        let sqs = "20150831/us-east-1/sqs/aws4_request";
        for scope in [day1, day2, sqs, day1] {
            assert!(verified(&signed(scope, SECRET)), "{scope}");
            assert!(!verified(&signed(scope, "another secret")), "{scope}");
        }
        keys.insert("AKIDEXAMPLE", "a new secret", "function/f");
        assert!(!verified(&signed(day1, SECRET)));
        assert!(verified(&signed(day1, "a new secret")));
    }

    /// A signature over `x-amz-content-sha256` holds only for the body of that hash.
    #[test]
    fn a_signed_payload_hash_must_be_the_bodys() {
        let scope = "20150830/us-east-1/service/aws4_request";
        let signed = |body: &[u8], claimed: &str| {
            signed_post(scope, ("x-amz-content-sha256", claimed), body, SECRET)
        };
        let body = br#"{"TableName":"t"}"#;
        let hash = hex(&Sha256::digest(body));
        let parts = signed(body, &hash);
        let signature = SigV4::from_request(&parts).unwrap();
        assert!(signature.verify(&parts, body, SECRET));
        assert!(!signature.verify(&parts, br#"{"TableName":"u"}"#, SECRET));
        // Unsigned payloads are not covered, as on AWS.
        let parts = signed(body, "UNSIGNED-PAYLOAD");
        let signature = SigV4::from_request(&parts).unwrap();
        assert!(signature.verify(&parts, br#"{"TableName":"u"}"#, SECRET));
    }
}
