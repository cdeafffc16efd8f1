//! The identity a verified client certificate proves: its subject common
//! name, else its first DNS subject alternative name. Goes into
//! [`crate::conn::Peer::cert_identity`].

use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Longest identity kept; a longer name is not an identity but noise.
pub const MAX_IDENTITY: usize = 255;

/// The identity of `cert` (the leaf the verifier accepted), if it names
/// one.
pub fn identity(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let cn = x
        .subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok().map(str::to_owned));
    let name = cn.or_else(|| {
        let san = x.subject_alternative_name().ok().flatten()?;
        san.value.general_names.iter().find_map(|g| match g {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            _ => None,
        })
    })?;
    (!name.is_empty() && name.len() <= MAX_IDENTITY).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    fn cert(cn: Option<&str>, sans: &[&str]) -> CertificateDer<'static> {
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name = DistinguishedName::new();
        if let Some(cn) = cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        let k = KeyPair::generate().unwrap();
        p.self_signed(&k).unwrap().der().clone()
    }

    #[test]
    fn common_name_first_then_dns_san() {
        assert_eq!(
            identity(&cert(Some("alice"), &["a.example"])).as_deref(),
            Some("alice")
        );
        assert_eq!(
            identity(&cert(None, &["svc.example", "b.example"])).as_deref(),
            Some("svc.example")
        );
        assert_eq!(identity(&cert(None, &[])), None);
        assert_eq!(identity(&CertificateDer::from(vec![1, 2, 3])), None);
    }
}
