//! `nv2-gatekeeper certs`: a CA and a serving certificate for the provider (tests, the demo,
//! clusters without cert-manager), and the `caBundle` value of Gatekeeper's `Provider` resource.
//!
//! ```text
//! DIR/ca.crt    the CA (P-256, 10 years): what Gatekeeper trusts (caBundle = base64 of it)
//! DIR/tls.crt   the serving certificate, signed by the CA, for --dns/--ip names (1 year);
//!               its EKU allows TLS server and client use, so one can also stand in for a client
//! DIR/tls.key   its private key (PKCS#8 PEM, mode 0600)
//! ```

use std::net::IpAddr;
use std::path::Path;

use base64ct::{Base64, Encoding};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// A CA and a certificate it issued, as PEM.
#[derive(Clone, Debug)]
pub struct Certs {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Certs {
    /// A fresh CA and a certificate for `dns` names and `ips`.
    pub fn generate(dns: &[String], ips: &[IpAddr]) -> Result<Certs, rcgen::Error> {
        let now = time::OffsetDateTime::now_utc();
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name("nv2-gatekeeper CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // A little in the past: clocks of a cluster's nodes are not all the same.
        ca.not_before = now - time::Duration::hours(1);
        ca.not_after = now + time::Duration::days(3650);
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, &ca_key);

        let key = KeyPair::generate()?;
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = name(dns.first().map_or("nv2-gatekeeper", String::as_str));
        leaf.subject_alt_names = dns
            .iter()
            .map(|d| d.clone().try_into().map(SanType::DnsName))
            .collect::<Result<Vec<_>, _>>()?;
        leaf.subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        leaf.not_before = now - time::Duration::hours(1);
        leaf.not_after = now + time::Duration::days(365);
        let cert = leaf.signed_by(&key, &issuer)?;
        Ok(Certs {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.crt`, `tls.crt` and `tls.key` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("ca.crt"), &self.ca_pem)?;
        std::fs::write(dir.join("tls.crt"), &self.cert_pem)?;
        let key = dir.join("tls.key");
        std::fs::write(&key, &self.key_pem)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    /// The `caBundle` of the `Provider` resource: base64 of the CA's PEM.
    pub fn ca_bundle(&self) -> String {
        Base64::encode_string(self.ca_pem.as_bytes())
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_and_the_ca_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let certs =
            Certs::generate(&["nv2.example".into()], &["127.0.0.1".parse().unwrap()]).unwrap();
        certs.write(dir.path()).unwrap();
        for f in ["ca.crt", "tls.crt"] {
            let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{f}");
        }
        assert!(std::fs::read_to_string(dir.path().join("tls.key"))
            .unwrap()
            .contains("PRIVATE KEY"));
        assert_eq!(
            Base64::decode_vec(&certs.ca_bundle()).unwrap(),
            certs.ca_pem.as_bytes()
        );
        assert_ne!(certs.ca_pem, certs.cert_pem);
    }
}
