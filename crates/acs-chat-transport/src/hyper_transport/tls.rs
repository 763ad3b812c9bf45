//! The rustls client configuration: crypto provider, trusted roots.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::{TransportError, TransportErrorKind};

/// Parses every certificate of a PEM bundle; a bad block or a bundle without any
/// certificate is a `Config` error.
pub(super) fn parse_pem_certificates(
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| {
            TransportError::new(
                TransportErrorKind::Config,
                "could not parse a PEM root certificate",
            )
            .with_source(e)
        })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(TransportError::new(
            TransportErrorKind::Config,
            "the PEM data holds no CERTIFICATE block",
        ));
    }
    Ok(certs)
}

/// The crypto provider chosen by cargo features: ring, else aws-lc-rs, else the
/// process-wide default.
fn crypto_provider() -> Result<Arc<CryptoProvider>, TransportError> {
    #[cfg(feature = "ring")]
    {
        Ok(Arc::new(rustls::crypto::ring::default_provider()))
    }
    #[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
    {
        Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    }
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    {
        CryptoProvider::get_default().cloned().ok_or_else(|| {
            TransportError::new(
                TransportErrorKind::Config,
                "no rustls crypto provider: enable the `ring` or `aws-lc-rs` feature of \
                 acs-chat-transport or install a process-wide default provider",
            )
        })
    }
}

/// The trusted roots: the feature-selected root programs plus the extra roots.
fn root_store(extra_roots: &[CertificateDer<'static>]) -> Result<RootCertStore, TransportError> {
    let mut roots = RootCertStore::empty();
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    {
        // Unreadable or unparsable platform certificates are skipped, as browsers do;
        // an empty store is reported below.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(|e| {
            TransportError::new(
                TransportErrorKind::Config,
                "an added root certificate is not a valid trust anchor",
            )
            .with_source(e)
        })?;
    }
    if roots.is_empty() {
        return Err(TransportError::new(
            TransportErrorKind::Config,
            "no trusted root certificates: enable the `webpki-roots` or `native-roots` \
             feature of acs-chat-transport or add a root certificate",
        ));
    }
    Ok(roots)
}

/// A client configuration with certificate verification always on; ALPN is left empty
/// (hyper-rustls fills it in).
pub(super) fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, TransportError> {
    let provider = crypto_provider()?;
    let roots = root_store(extra_roots)?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            TransportError::new(
                TransportErrorKind::Config,
                "the crypto provider supports no safe TLS version",
            )
            .with_source(e)
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
