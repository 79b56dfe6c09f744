//! The test CA and its `localhost` certificate as rustls configurations, shared by
//! the TLS tests of every adapter: they include this file with
//! `#[path = ".../tokio/tests/certs/test_ca.rs"] mod test_ca;` next to a `rustls`
//! in scope (their adapter's re-export), so every adapter is tested against the
//! same server.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use super::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{RootCertStore, ServerConfig};

fn cert(name: &str) -> PathBuf {
    // From any crate of the workspace: crates/<crate>/../tokio/tests/certs.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tokio/tests/certs")
        .join(name)
}

/// A server with the `localhost` certificate (also valid for 127.0.0.1) that, as
/// an HTTPS server may, prefers HTTP/2 in ALPN: a client that offered h2 would get
/// it and then fail its HTTP/1.1 upgrade.
pub(crate) fn server_config() -> Arc<ServerConfig> {
    let chain = vec![CertificateDer::from_pem_file(cert("localhost.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(cert("localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Roots holding only the test CA (for the adapter's `client_config`).
pub(crate) fn test_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert("ca.pem")).unwrap())
        .unwrap();
    roots
}
