//! The per-run certificate authority of the proxy: a fresh CA each run,
//! trusted only inside the sandboxes, and a leaf certificate per host it
//! signs on demand (kept in memory for the run). Also the client side:
//! which CAs the proxy trusts when it talks to the real upstream.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Extra PEM file of CAs the proxy trusts upstream, besides the host's
/// store: for private registries, and for tests' throwaway CAs.
pub const UPSTREAM_CA_VAR: &str = "ENVTWIN_UPSTREAM_CA";

/// The run's CA and the leaf configurations it made so far.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
    leaves: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
}

/// ring, not aws-lc-rs: aws-lc-rs needs cmake and a C toolchain to build.
/// Its post-quantum key exchange is not needed between a build and the proxy.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Ca {
    /// A new CA, valid for this run only (its key never leaves memory).
    pub fn generate() -> Result<Ca, String> {
        let key = KeyPair::generate().map_err(|e| format!("generating the proxy CA key: {e}"))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| format!("proxy CA: {e}"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "envtwin per-run proxy CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| format!("signing the proxy CA: {e}"))?;
        Ok(Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM, as builds get it.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A TLS server configuration presenting a certificate for `host`,
    /// signed by this CA; made once per host.
    pub fn server_config(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, String> {
        let mut leaves = self.leaves.lock().map_err(|_| "proxy CA lock poisoned")?;
        if let Some(c) = leaves.get(host) {
            return Ok(c.clone());
        }
        let key = KeyPair::generate().map_err(|e| format!("leaf key for {host}: {e}"))?;
        let mut params =
            CertificateParams::new(vec![host.to_string()]).map_err(|e| format!("{host}: {e}"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host);
        params.distinguished_name = dn;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| format!("signing a certificate for {host}: {e}"))?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone(), self.der.clone()], key_der)
            .map_err(|e| format!("TLS for {host}: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        leaves.insert(host.to_string(), config.clone());
        Ok(config)
    }
}

/// The client configuration for upstream: the host's CA store, plus the
/// CAs in `$ENVTWIN_UPSTREAM_CA` when set.
pub fn upstream_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unusable entries of the host store are skipped, as curl does.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(file) = std::env::var_os(UPSTREAM_CA_VAR) {
        let certs = CertificateDer::pem_file_iter(&file)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                format!(
                    "{UPSTREAM_CA_VAR}={}: cannot read PEM certificates: {e}",
                    std::path::Path::new(&file).display()
                )
            })?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{UPSTREAM_CA_VAR}: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
