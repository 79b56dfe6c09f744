//! The rustls client configuration the adapters use for `wss://` (feature `tls`).
//!
//! Every adapter's `connect` takes its TLS settings from here, so a `wss://` URL
//! is verified the same way on every runtime: TLS 1.2 and 1.3 with rustls' ring
//! provider, the server's certificate checked against the Mozilla root
//! certificates (webpki-roots) for the URL's host, and ALPN `http/1.1`, because
//! the opening handshake is an HTTP/1.1 request: a server that prefers HTTP/2
//! must not pick it for us.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec;
use std::sync::OnceLock;

use ferrosocket_proto::handshake::Url;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use super::Error;

pub use rustls;

/// A client configuration trusting `roots`, with the settings the adapters use by
/// default (ring, TLS 1.2 and 1.3, ALPN `http/1.1`, no client certificate). For a
/// private CA, build one with its certificate and pass it to an adapter's
/// `connect_tls_with`.
///
/// ```
/// use ferrosocket_io::tls::{client_config, rustls::RootCertStore};
///
/// let config = client_config(RootCertStore::empty());
/// assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
/// ```
#[must_use]
pub fn client_config(roots: RootCertStore) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// [`client_config`] with the Mozilla roots, built once and shared.
#[must_use]
pub fn default_client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(client_config(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }))
        })
        .clone()
}

/// The name the server's certificate must carry for `url`: its host, a DNS name
/// or an IP address.
///
/// # Errors
///
/// [`Error::InvalidUrl`] for a host that is neither.
pub fn server_name(url: &Url) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(url.host().to_owned()).map_err(|e| {
        Error::InvalidUrl(format!(
            "{}: not a host name TLS can verify: {e}",
            url.host()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_defaults() {
        let url = Url::parse("wss://[::1]:9001/x").unwrap();
        assert!(matches!(server_name(&url), Ok(ServerName::IpAddress(_))));
        let url = Url::parse("wss://example.com/").unwrap();
        assert!(matches!(server_name(&url), Ok(ServerName::DnsName(_))));
        let url = Url::parse("wss://bad_name!/").unwrap();
        assert!(matches!(server_name(&url), Err(Error::InvalidUrl(_))));
        let config = default_client_config();
        assert!(Arc::ptr_eq(&config, &default_client_config()));
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
