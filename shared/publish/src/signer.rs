//! SigV4 signing of one request with `aws-sigv4`: who signs (credentials), where (region)
//! and for which service (`execute-api`, `appsync`).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// Configuration that is missing or unusable: a function fails fast on it at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Signs requests for one service in one region.
#[derive(Debug, Clone)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
}

impl Signer {
    /// A signer with explicit credentials (tests, or credentials from elsewhere).
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Self {
        Signer {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    /// Credentials and region from the variables Lambda sets for every function
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`).
    /// Lambda's role credentials are valid for the sandbox's whole life, so reading them
    /// once at start is what the SDK's environment provider does too.
    pub fn from_env(service: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(service, |k| std::env::var(k).ok())
    }

    /// [`Signer::from_env`] over any lookup (so it is testable without touching the
    /// process environment).
    pub fn from_lookup(
        service: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let need = |k: &str| {
            get(k)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError(format!("{k} is not set")))
        };
        let key = need("AWS_ACCESS_KEY_ID")?;
        let secret = need("AWS_SECRET_ACCESS_KEY")?;
        let token = get("AWS_SESSION_TOKEN").filter(|v| !v.is_empty());
        let region = get("AWS_REGION")
            .filter(|v| !v.is_empty())
            .or_else(|| get("AWS_DEFAULT_REGION").filter(|v| !v.is_empty()))
            .ok_or_else(|| ConfigError("AWS_REGION is not set".to_owned()))?;
        let credentials = Credentials::new(key, secret, token, None, "environment");
        Ok(Signer::new(credentials, &region, service))
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service requests are signed for.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The headers to add to a request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` with temporary credentials). `headers` are the request's own
    /// headers that must be covered by the signature (the host is taken from `url`).
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, String> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("signable request: {e}"))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lookup_needs_keys_and_region_and_takes_the_token() {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
            "AWS_SESSION_TOKEN" => Some("token".to_owned()),
            "AWS_REGION" => Some("us-east-2".to_owned()),
            _ => None,
        };
        let s = Signer::from_lookup("appsync", env).unwrap();
        assert_eq!(s.region(), "us-east-2");
        let h = s
            .sign(
                "POST",
                "https://x.example/graphql",
                &[],
                b"{}",
                SystemTime::UNIX_EPOCH,
            )
            .unwrap();
        assert!(
            h.iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "token")
        );
        assert!(h.iter().any(|(k, v)| k == "authorization"
            && v.starts_with("AWS4-HMAC-SHA256 Credential=AKID/19700101/us-east-2/appsync/")));

        let no_region = |k: &str| if k == "AWS_REGION" { None } else { env(k) };
        assert_eq!(
            Signer::from_lookup("appsync", no_region).unwrap_err().0,
            "AWS_REGION is not set"
        );
        let no_key = |k: &str| {
            if k == "AWS_ACCESS_KEY_ID" {
                None
            } else {
                env(k)
            }
        };
        assert!(Signer::from_lookup("appsync", no_key).is_err());
    }
}
