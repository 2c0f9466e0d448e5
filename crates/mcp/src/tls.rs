//! The HTTP client remote (Streamable HTTP) servers are reached with.
//!
//! Its TLS names the ring provider itself instead of relying on a process-wide default (only
//! the binary installs one), and trusts the system's CA certificates, or Mozilla's
//! (`webpki-roots`) on a system without any, such as a bare container.

use std::sync::{Arc, OnceLock};

use rustls::crypto::ring;

/// One client for every remote server: connections are pooled per host.
pub(crate) fn http_client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            builder()
                .build()
                .expect("a client with preconfigured TLS always builds")
        })
        .clone()
}

/// A client builder with this TLS configuration, for a client of its own (the OAuth requests
/// add their redirect policy and address guard).
pub(crate) fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(client_config())
}

fn client_config() -> rustls::ClientConfig {
    let provider = Arc::new(ring::default_provider());
    let versions = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let trusting = match rustls_platform_verifier::Verifier::new(provider) {
        Ok(system) => versions
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(system)),
        Err(_) => {
            let roots = webpki_roots::TLS_SERVER_ROOTS.iter().cloned();
            versions.with_root_certificates(rustls::RootCertStore::from_iter(roots))
        }
    };
    let mut config = trusting.with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_client_builds_without_a_process_wide_tls_provider() {
        // No test in this crate's unit tests installs one; building must not need it.
        let _client = super::http_client();
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }
}
