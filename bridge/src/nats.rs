//! How the bridge reaches NATS: the servers, who it is (credentials) and TLS, with every
//! secret kept out of logs and error messages.
//!
//! # Credentials
//!
//! At most one way of proving who the bridge is, each from the environment (on ECS the
//! task definition fills the secret ones from Secrets Manager, so no secret is in the
//! image, the template or the task's plain environment):
//!
//! | variables | NATS method |
//! |---|---|
//! | `NATS_CREDS_FILE` | a `.creds` file (JWT and nkey seed), as `nsc` writes it |
//! | `NATS_CREDS` | the same file's content (a Secrets Manager secret) |
//! | `NATS_NKEY_SEED` | an nkey seed (`SU…`) |
//! | `NATS_USER` and `NATS_PASSWORD` | user and password |
//! | `NATS_TOKEN` | a token |
//!
//! Two of them at once is refused at start (which would win is not obvious). A user and
//! password written into `NATS_URL` still work, as the NATS client reads them, but are
//! redacted wherever the URL is shown.
//!
//! # TLS
//!
//! `NATS_TLS` is `auto` (TLS when the server asks for it or the URL is `tls://`), or
//! `required` (refuse a server that does not offer it). `NATS_TLS_CA_FILE` (a PEM file) or
//! `NATS_TLS_CA` (its content, from a secret) adds the CA that signed the server's
//! certificate and makes TLS required; `NATS_TLS_CERT_FILE` and `NATS_TLS_KEY_FILE` give a
//! client certificate (both or neither).

use std::fmt;
use std::path::{Path, PathBuf};

use async_nats::ConnectOptions;

/// A value that must never be printed: its `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value itself, for the one place that needs it (the connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The NATS server list as configured (`NATS_URL`); it may carry a user and password,
/// so `Debug` and `Display` show it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsUrl(String);

impl NatsUrl {
    pub fn new(s: impl Into<String>) -> NatsUrl {
        NatsUrl(s.into())
    }

    /// The URL as given, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any user information replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for NatsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for NatsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the user information (`user:password@`, or a token before `@`) of each
/// comma-separated server URL with `***`. A URL without any is returned as it was.
pub fn redact_url(urls: &str) -> String {
    urls.split(',')
        .map(|u| {
            let (scheme, rest) = match u.find("://") {
                Some(i) => u.split_at(i + 3),
                None => ("", u),
            };
            // The authority ends at the first '/', '?' or '#'; user information is what
            // comes before its last '@'.
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
                None => u.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Who the bridge is to NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials (or only those written into the URL).
    None,
    CredsFile(PathBuf),
    Creds(Secret),
    Nkey(Secret),
    UserPassword {
        user: String,
        password: Secret,
    },
    Token(Secret),
}

impl NatsAuth {
    /// The method's name for logs (never its secret).
    pub fn method(&self) -> &'static str {
        match self {
            NatsAuth::None => "none",
            NatsAuth::CredsFile(_) => "creds file",
            NatsAuth::Creds(_) => "creds",
            NatsAuth::Nkey(_) => "nkey",
            NatsAuth::UserPassword { .. } => "user and password",
            NatsAuth::Token(_) => "token",
        }
    }
}

/// Where the CA that signed the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    File(PathBuf),
    /// PEM content (from a secret); written to a private file at start, as the NATS
    /// client reads roots from a path.
    Pem(Secret),
}

/// TLS towards NATS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NatsTls {
    /// Refuse a server that does not offer TLS.
    pub required: bool,
    pub ca: Option<CaSource>,
    /// Client certificate and key files.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Everything needed to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    pub url: NatsUrl,
    pub auth: NatsAuth,
    pub tls: NatsTls,
}

/// Why the connection could not be set up (before any network traffic).
#[derive(Debug, thiserror::Error)]
pub enum NatsSetupError {
    #[error("reading the NATS credentials: {0}")]
    Creds(std::io::Error),
    #[error("writing the NATS CA to {path}: {err}")]
    Ca { path: String, err: std::io::Error },
}

impl NatsSettings {
    /// Connect options carrying the credentials and TLS settings. `scratch` is a private
    /// directory for a CA given as content.
    pub async fn options(
        &self,
        name: &str,
        scratch: &Path,
    ) -> Result<ConnectOptions, NatsSetupError> {
        let mut o = ConnectOptions::new().name(name);
        o = match &self.auth {
            NatsAuth::None => o,
            NatsAuth::CredsFile(p) => o.credentials_file(p).await.map_err(NatsSetupError::Creds)?,
            NatsAuth::Creds(c) => o.credentials(c.expose()).map_err(NatsSetupError::Creds)?,
            NatsAuth::Nkey(seed) => o.nkey(seed.expose().to_owned()),
            NatsAuth::UserPassword { user, password } => {
                o.user_and_password(user.clone(), password.expose().to_owned())
            }
            NatsAuth::Token(t) => o.token(t.expose().to_owned()),
        };
        if self.tls.required || self.tls.ca.is_some() {
            o = o.require_tls(true);
        }
        match &self.tls.ca {
            None => {}
            Some(CaSource::File(p)) => o = o.add_root_certificates(p.clone()),
            Some(CaSource::Pem(pem)) => {
                let path = scratch.join("nats-ca.pem");
                write_private(scratch, &path, pem.expose().as_bytes()).map_err(|err| {
                    NatsSetupError::Ca {
                        path: path.display().to_string(),
                        err,
                    }
                })?;
                o = o.add_root_certificates(path);
            }
        }
        if let Some((cert, key)) = &self.tls.client {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        Ok(o)
    }
}

/// Writes a file only its owner may read, in a directory only its owner may enter.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_redacted_in_every_server_of_the_list() {
        assert_eq!(
            redact_url("nats://bridge:s3cret@n1.example:4222,tls://tok@n2:4222"),
            "nats://***@n1.example:4222,tls://***@n2:4222"
        );
        assert_eq!(redact_url("u:p@host:4222"), "***@host:4222");
        // An '@' after the authority is not user information.
        assert_eq!(redact_url("nats://host:4222/a@b"), "nats://host:4222/a@b");
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        // A password holding an '@' is still all hidden.
        assert_eq!(redact_url("nats://u:p@ss@h:1"), "nats://***@h:1");
    }

    #[test]
    fn secrets_never_print() {
        let s = NatsSettings {
            url: NatsUrl::new("nats://bridge:hunter2@h:4222"),
            auth: NatsAuth::UserPassword {
                user: "bridge".into(),
                password: Secret::new("hunter2"),
            },
            tls: NatsTls {
                ca: Some(CaSource::Pem(Secret::new("-----BEGIN CERTIFICATE-----"))),
                ..NatsTls::default()
            },
        };
        let shown = format!("{s:?} {} {}", s.url, s.auth.method());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");
        assert!(shown.contains("***@h:4222"), "{shown}");
    }
}
