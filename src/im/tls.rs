//! One trust store for every connection to the service: the HTTPS client (mtop, passport,
//! uploads) and the WebSocket are built from the same rustls configuration, which verifies
//! certificates with the operating system's roots (rustls-platform-verifier; on Linux the
//! system bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set). Behind a TLS-inspecting proxy
//! whose CA the system trusts, both connections work; with an untrusted one, neither does.

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls_platform_verifier::BuilderVerifierExt;
use std::sync::{Arc, OnceLock};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up TLS certificate checks: {0}")]
pub struct TlsError(String);

/// The client configuration shared by HTTPS and the WebSocket. Built once per process (the
/// system's roots are read then), so reconnects do not read them again.
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, TlsError>> = OnceLock::new();
    CONFIG.get_or_init(build).clone()
}

fn build() -> Result<Arc<ClientConfig>, TlsError> {
    // A provider the program installed wins, as in reqwest; else the one reqwest also uses.
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_platform_verifier()
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth();
    // HTTP/1.1 only: reqwest is built without HTTP/2, and a WebSocket upgrade needs 1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tracing::debug!("TLS set up with the system's certificate roots");
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_configuration_for_the_whole_process() {
        let (Ok(a), Ok(b)) = (client_config(), client_config()) else {
            // A machine without any CA certificate: both clients fail alike, which is the point.
            assert_eq!(client_config().err(), client_config().err());
            return;
        };
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
