//! TLS: the emulator's generated certificates and the rustls server configuration.
//!
//! Without a certificate of its own, the emulator uses a small local CA, made once and kept
//! (in its data directory, or the user's, see [`LocalCa::load_or_create`]), and a server
//! certificate signed by it at every start for `localhost`, `127.0.0.1` and `::1`. Clients trust the CA
//! certificate ([`GeneratedCertificate::ca_pem`]); a CA plus leaf (rather than one self-signed
//! leaf) is what OpenSSL's strict mode (Python 3.13+), Node and webpki all accept.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A generated CA and the server certificate it signed, as PEM.
#[derive(Clone)]
#[non_exhaustive]
pub struct GeneratedCertificate {
    /// The CA certificate clients should trust.
    pub ca_pem: String,
    /// The server certificate followed by the CA certificate.
    pub chain_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for GeneratedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCertificate")
            .field("ca_pem", &self.ca_pem)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A TLS setup problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn err(what: &str) -> impl FnOnce(rcgen::Error) -> TlsError + '_ {
    move |e| TlsError(format!("{what}: {e}"))
}

/// A local CA: its certificate and private key (PEM). Kept across restarts (see
/// [`LocalCa::load_or_create`]) so that clients that trusted it keep working.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalCa {
    /// The CA certificate clients trust.
    pub cert_pem: String,
    /// The CA's private key (PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The CA's parameters: the same at every start, so that a leaf signed with the kept key
/// names the kept certificate as its issuer.
fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err("CA parameters"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "acs-chat-emulator local CA");
    ca.distinguished_name = name;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // Valid for a long time: the CA is kept and trusted across restarts.
    ca.not_after = rcgen::date_time_ymd(2099, 12, 31);
    Ok(ca)
}

impl LocalCa {
    /// A new CA.
    pub fn generate() -> Result<Self, TlsError> {
        let key = KeyPair::generate().map_err(err("generating the CA key"))?;
        let cert = ca_params()?
            .self_signed(&key)
            .map_err(err("signing the CA"))?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The CA kept in `dir` (`ca.pem`, and `ca-key.pem` readable by the owner only), made and
    /// written there the first time.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |e: std::io::Error| TlsError(format!("{what}: {e}"))
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // Emulators starting at the same time agree on one CA: the first makes it under the
        // lock, the others read it.
        let lock_path = dir.join("ca.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        if cert_path.exists() && key_path.exists() {
            return Ok(Self {
                cert_pem: std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?,
                key_pem: std::fs::read_to_string(&key_path).map_err(io(&key_path))?,
            });
        }
        let ca = Self::generate()?;
        write_private(&key_path, &ca.key_pem).map_err(io(&key_path))?;
        std::fs::write(&cert_path, &ca.cert_pem).map_err(io(&cert_path))?;
        Ok(ca)
    }

    /// The path of the certificate [`Self::load_or_create`] keeps in `dir`.
    pub fn cert_path(dir: &Path) -> PathBuf {
        dir.join("ca.pem")
    }

    /// A server certificate for localhost, 127.0.0.1 and ::1, signed by this CA.
    pub fn server_certificate(&self) -> Result<GeneratedCertificate, TlsError> {
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(err("reading the CA key"))?;
        let issuer = Issuer::new(ca_params()?, ca_key);
        let key = KeyPair::generate().map_err(err("generating the server key"))?;
        let mut leaf = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(err("server parameters"))?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "localhost");
        leaf.distinguished_name = name;
        leaf.use_authority_key_identifier_extension = true;
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf
            .signed_by(&key, &issuer)
            .map_err(err("signing the server certificate"))?;
        Ok(GeneratedCertificate {
            ca_pem: self.cert_pem.clone(),
            chain_pem: format!("{}{}", leaf_cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Writes a file readable and writable by its owner only (0600 on Unix).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Where the emulator keeps its CA when it has no data directory: the user's data directory
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux) under `acs-chat-emulator`; `None` when the
/// platform has none.
pub fn default_ca_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("acs-chat-emulator"))
}

/// Generates a local CA and a server certificate for localhost, 127.0.0.1 and ::1.
pub fn generate() -> Result<GeneratedCertificate, TlsError> {
    LocalCa::generate()?.server_certificate()
}

/// A rustls server configuration (ring provider, ALPN `h2` and `http/1.1`) from PEM.
pub(crate) fn server_config(chain_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("reading the certificate PEM: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError("the certificate PEM has no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError(format!("reading the private key PEM: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError(format!("the certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
