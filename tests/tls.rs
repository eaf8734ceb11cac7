//! TLS failures named as such, against a test server with certificates made on the spot
//! (rcgen): a private CA not trusted, trusted with --ca-cert, an expired certificate, a
//! certificate for another name, --insecure, and a plain-HTTP server behind an https:// URL.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

use crate::cluster::{root_8, SECRET_KEY};
use crate::support::replay::{Replay, Route};
use crate::support::{keydoctor_env, Output, NOW};

/// A CA, and a server certificate it signed for `names` (DNS names or IP addresses), valid
/// from `from` to `until` (years).
struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn pki(names: &[&str], from: i32, until: i32) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "keydoctor test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    for name in names {
        params.subject_alt_names.push(match name.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into().unwrap()),
        });
    }
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(until, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// Serve HTTPS on a loopback port: `GET /` answers as 8.12 does, anything else an empty key list.
fn serve(pki: &Pki) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.key_der.clone().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut reader = BufReader::new(&mut tls);
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return; // the client refused the certificate
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/");
                let body = if path == "/" {
                    root_8()
                } else {
                    r#"{"api_keys":[]}"#.to_string()
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes());
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

fn key(url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "key",
        "VuaCfGcBCdbkQm-e5aOx",
        "--es-url",
        url,
        "--now",
        NOW,
        "--timeout",
        "5",
    ];
    args.extend_from_slice(extra);
    keydoctor_env(&args, &[("ES_API_KEY", SECRET_KEY), ("COLUMNS", "400")])
}

fn ca_file(pki: &Pki) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(pki.ca_pem.as_bytes()).unwrap();
    f
}

#[test]
fn a_private_ca_is_named_and_trusted_with_ca_cert() {
    let pki = pki(&["127.0.0.1", "localhost"], 2025, 2099);
    let url = serve(&pki);
    let out = key(&url, &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("signed by a CA this machine does not trust"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--ca-cert"),
        "the help says what to do: {}",
        out.stderr
    );
    let ca = ca_file(&pki);
    let out = key(&url, &["--ca-cert", ca.path().to_str().unwrap()]);
    // Trusted: the key is looked up (and the empty answer says missing).
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("missing"), "{}", out.stdout);
    // --insecure connects too, and says loudly what it costs.
    let out = key(&url, &["--insecure"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure"), "{}", out.stderr);
    assert!(!out.stderr.contains(SECRET_KEY));
}

#[test]
fn an_expired_certificate_says_so_with_its_date() {
    let pki = pki(&["127.0.0.1"], 2020, 2024);
    let url = serve(&pki);
    let ca = ca_file(&pki);
    let out = key(&url, &["--ca-cert", ca.path().to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("certificate has expired"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("2024-01-01"), "{}", out.stderr);
}

#[test]
fn a_certificate_for_another_name_says_which_names_it_has() {
    let pki = pki(&["es-node-1.prod.example"], 2025, 2099);
    let url = serve(&pki);
    let ca = ca_file(&pki);
    let out = key(&url, &["--ca-cert", ca.path().to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("not valid for this host name"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("es-node-1.prod.example"),
        "{}",
        out.stderr
    );
}

#[test]
fn https_to_a_plain_http_port_says_the_server_does_not_speak_tls() {
    // A plain HTTP server answers a TLS ClientHello with an HTTP error, as Elasticsearch's HTTP
    // layer does without TLS.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut hello = [0u8; 512];
            let _ = std::io::Read::read(&mut stream, &mut hello);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let out = key(&url, &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("does not speak TLS on this port"),
        "{}",
        out.stderr
    );
    // A server that hangs up mid-handshake is named as such.
    let replay = Replay::start(vec![Route::json("GET", "/", 200, &root_8())]);
    let out = key(&replay.url.replace("http://", "https://"), &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("during the TLS handshake"),
        "{}",
        out.stderr
    );
}
