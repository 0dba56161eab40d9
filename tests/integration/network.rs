//! The network through envtwin's proxy (issue 14): real HTTP and HTTPS
//! upstreams on 127.0.0.2 that the tests start and count requests at, and
//! builds that download from them with curl.

use crate::support::{Project, require_tool, scenario};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The address the upstreams listen on: loopback on the host, but not
/// `localhost`/`127.0.0.1`, which `no_proxy` sends to the build's own
/// loopback.
const HOST: &str = "127.0.0.2";

/// A path's answers, in turn (the last one repeats), and its content type.
type Routes = BTreeMap<String, (Vec<Vec<u8>>, &'static str)>;

/// A tiny upstream: counts requests per path and answers from `routes`.
struct Upstream {
    port: u16,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
    /// The throwaway CA's certificate (PEM), for HTTPS upstreams.
    ca_pem: Option<String>,
}

impl Upstream {
    fn http(routes: Routes) -> Upstream {
        Upstream::start(routes, None)
    }

    fn https(routes: Routes) -> Upstream {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec![HOST.to_string()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("leaf");
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("config");
        let mut up = Upstream::start(routes, Some(Arc::new(config)));
        up.ca_pem = Some(ca_cert.pem());
        up
    }

    fn start(routes: Routes, tls: Option<Arc<rustls::ServerConfig>>) -> Upstream {
        let listener = TcpListener::bind((HOST, 0)).expect("bind 127.0.0.2");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(Mutex::new(BTreeMap::new()));
        let counted = hits.clone();
        let routes = Arc::new(routes);
        // Lives as long as the test binary: one thread per upstream.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (hits, routes, tls) = (counted.clone(), routes.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let Ok(session) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(session, conn), &hits, &routes);
                    }
                    None => serve(conn, &hits, &routes),
                });
            }
        });
        Upstream {
            port,
            hits,
            ca_pem: None,
        }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{HOST}:{}{path}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("hits")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// One request per connection: read the head, answer, close.
fn serve<S: Read + Write>(stream: S, hits: &Mutex<BTreeMap<String, usize>>, routes: &Routes) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) if h == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let n = {
        let mut hits = hits.lock().expect("hits");
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let (status, body, ctype) = match routes.get(&path) {
        Some((answers, ctype)) => (
            "200 OK",
            answers[(n - 1).min(answers.len() - 1)].clone(),
            *ctype,
        ),
        None => ("404 Not Found", b"no such path\n".to_vec(), "text/plain"),
    };
    let mut stream = reader.into_inner();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

fn blob(body: &[u8]) -> (Vec<Vec<u8>>, &'static str) {
    (vec![body.to_vec()], "application/octet-stream")
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The fetch of `url` in a scenario's report.
fn fetch<'a>(s: &'a serde_json::Value, url: &str) -> &'a serde_json::Value {
    s["fetches"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["url"] == url))
        .unwrap_or_else(|| panic!("no fetch of {url} in {:#}", s["fetches"]))
}

#[test]
fn each_url_goes_upstream_once_per_run_even_with_the_culprit_search() {
    if !require_tool("curl") {
        return;
    }
    let up = Upstream::http(Routes::from([(
        "/pkg.tar.gz".into(),
        blob(b"package bytes"),
    )]));
    let p = Project::new();
    let url = up.url("http", "/pkg.tar.gz");
    p.file(
        "s.yaml",
        &format!(
            "name: leaky\nnetwork: {{allow: [{HOST}]}}\nvary: [hostname, umask]\nbuild: |\n  \
             mkdir -p $out\n  curl -fsS -o $out/pkg {url}\n  hostname > $out/host\n"
        ),
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    let s = scenario(&report, "leaky");
    assert_eq!(code, 1, "{s:#}");
    // The search rebuilt B with each variation alone: still one request.
    assert_eq!(s["culprits"], serde_json::json!(["hostname"]), "{s:#}");
    assert_eq!(up.hits("/pkg.tar.gz"), 1);
    let f = fetch(s, &url);
    assert_eq!(f["status"], 200);
    assert_eq!(f["bytes"], 13);
    assert_eq!(f["sha256"], sha256(b"package bytes"));
    assert_eq!(f["from_cache"], false);
    let builds: Vec<&str> = f["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .filter_map(|b| b.as_str())
        .collect();
    assert!(
        builds.contains(&"a") && builds.contains(&"b") && builds.len() > 2,
        "{builds:?}"
    );
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn a_download_that_changes_is_the_same_for_both_twins() {
    if !require_tool("curl") {
        return;
    }
    let changing = (
        vec![b"first answer".to_vec(), b"second answer".to_vec()],
        "application/octet-stream",
    );
    let up = Upstream::http(Routes::from([("/latest.bin".into(), changing)]));
    let p = Project::new();
    let url = up.url("http", "/latest.bin");
    p.file(
        "s.yaml",
        &format!(
            "name: moving\nnetwork: true\nvary: [hostname]\nbuild: |\n  \
             mkdir -p $out\n  curl -fsS -o $out/latest {url}\n"
        ),
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    let s = scenario(&report, "moving");
    assert_eq!(
        (code, &s["reproducible"]),
        (0, &serde_json::json!(true)),
        "{s:#}"
    );
    assert_eq!(up.hits("/latest.bin"), 1);
    assert_eq!(fetch(s, &url)["sha256"], sha256(b"first answer"));
}

#[test]
fn a_host_not_allowed_is_refused_and_named() {
    if !require_tool("curl") {
        return;
    }
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: refused\nnetwork: {allow: [pypi.org]}\nvary: [hostname]\nbuild: |\n  \
         mkdir -p $out\n  curl -fsS -o $out/x http://not-allowed.example/x\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    let s = scenario(&report, "refused");
    assert_eq!(code, 1, "{s:#}");
    let build = s["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["subject"] == "build A"))
        .expect("build A check");
    let message = build["message"].as_str().expect("message");
    assert!(
        message.contains("the proxy refused not-allowed.example (not in network.allow)"),
        "{message}"
    );
    let f = fetch(s, "http://not-allowed.example/x");
    assert_eq!(f["status"], 403);
    assert!(
        f["problem"]
            .as_str()
            .expect("problem")
            .contains("not in this scenario's network.allow [pypi.org]"),
        "{f:#}"
    );
}

#[test]
fn an_unreachable_upstream_fails_fast_and_says_so() {
    if !require_tool("curl") {
        return;
    }
    // A port nobody listens on: connecting is refused at once.
    let port = TcpListener::bind((HOST, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let p = Project::new();
    p.file(
        "s.yaml",
        &format!(
            "name: offline\nnetwork: true\nvary: [hostname]\ntimeout: 60\nbuild: |\n  \
             mkdir -p $out\n  curl -fsS -o $out/x http://{HOST}:{port}/x.whl\n"
        ),
    );
    let started = std::time::Instant::now();
    let (code, report) = p.run_json(&["s.yaml"]);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    let s = scenario(&report, "offline");
    assert_eq!(code, 1, "{s:#}");
    let text = s["checks"].to_string();
    assert!(
        text.contains(&format!("upstream unreachable: {HOST}:{port}")),
        "{text}"
    );
    assert_eq!(
        fetch(s, &format!("http://{HOST}:{port}/x.whl"))["status"],
        502
    );
}

#[test]
fn https_is_recorded_and_pinning_is_checked() {
    if !require_tool("curl") {
        return;
    }
    let up = Upstream::https(Routes::from([
        ("/pinned.whl".into(), blob(b"pinned wheel")),
        ("/loose.whl".into(), blob(b"loose wheel")),
        (
            "/simple/".into(),
            (vec![b"<html>index</html>".to_vec()], "text/html"),
        ),
    ]));
    let p = Project::new();
    let ca = p.file("upstream-ca.pem", up.ca_pem.as_deref().expect("ca"));
    let (pinned, loose, index) = (
        up.url("https", "/pinned.whl"),
        up.url("https", "/loose.whl"),
        up.url("https", "/simple/"),
    );
    p.file(
        "s/requirements.txt",
        &format!("pinned==1 --hash=sha256:{}\n", sha256(b"pinned wheel")),
    );
    let recipe = format!(
        "network: {{allow: [{HOST}]}}\nvary: [hostname]\nbuild: |\n  mkdir -p $out\n  \
         for u in {pinned} {loose} {index}; do curl -fsS $u >> $out/all; done\n"
    );
    p.file("s/warn.yaml", &format!("name: warn\n{recipe}"));
    p.file(
        "s/strict.yaml",
        &format!("name: strict\n{recipe}expect:\n  fetches: pinned\n"),
    );
    let out = p
        .cmd(&["run", "--format", "json", "s"])
        .env("ENVTWIN_UPSTREAM_CA", &ca)
        .output()
        .expect("run");
    let (code, report) = crate::support::json_output(&out);
    assert_eq!(code, 1, "{report:#}");
    let warn = scenario(&report, "warn");
    assert_eq!(warn["verdict"], "pass", "{warn:#}");
    assert_eq!(fetch(warn, &pinned)["pinned"], true);
    assert_eq!(fetch(warn, &pinned)["sha256"], sha256(b"pinned wheel"));
    assert_eq!(fetch(warn, &loose)["pinned"], false);
    // An index page is no download to pin.
    assert_eq!(fetch(warn, &index)["artifact"], false);
    let note = warn["notes"].to_string();
    assert!(
        note.contains(&format!(
            "1 download is not pinned by a digest in the scenario's files: {loose}"
        )),
        "{note}"
    );
    let strict = scenario(&report, "strict");
    assert_eq!(strict["verdict"], "fail", "{strict:#}");
    let check = strict["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "fetches"))
        .expect("fetches check");
    assert_eq!(check["passed"], false);
    let message = check["message"].as_str().expect("message");
    assert!(
        message.contains(&loose) && !message.contains(&pinned),
        "{message}"
    );
    // Both scenarios fetched each URL; the run's cache answered the second.
    assert_eq!(up.hits("/pinned.whl"), 1);
    // The human report sums it up in one line.
    let human = p
        .cmd(&["run", "s/warn.yaml"])
        .env("ENVTWIN_UPSTREAM_CA", &ca)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("  fetches: 3 (0 from cache), 1 unpinned\n"),
        "{text}"
    );
}

#[test]
fn a_fetch_cache_makes_the_second_run_ask_nobody() {
    if !require_tool("curl") {
        return;
    }
    let up = Upstream::http(Routes::from([("/dep.crate".into(), blob(b"crate bytes"))]));
    let p = Project::new();
    let url = up.url("http", "/dep.crate");
    p.file(
        "s.yaml",
        &format!(
            "name: cached\nnetwork: true\nvary: [hostname]\nbuild: |\n  \
             mkdir -p $out\n  curl -fsS -o $out/dep {url}\n"
        ),
    );
    let cache = p.path().join("fetch-cache");
    let cache_arg = cache.to_str().expect("utf-8");
    let (code, first) = p.run_json(&["--fetch-cache", cache_arg, "s.yaml"]);
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(fetch(scenario(&first, "cached"), &url)["from_cache"], false);
    let blob = cache.join("sha256").join(sha256(b"crate bytes"));
    assert_eq!(std::fs::read(&blob).expect("blob"), b"crate bytes");
    let (code, second) = p.run_json(&["--fetch-cache", cache_arg, "s.yaml"]);
    assert_eq!(code, 0, "{second:#}");
    assert_eq!(up.hits("/dep.crate"), 1);
    let f = fetch(scenario(&second, "cached"), &url);
    assert_eq!(
        (&f["from_cache"], &f["sha256"]),
        (
            &serde_json::json!(true),
            &serde_json::json!(sha256(b"crate bytes"))
        )
    );
    // Without --fetch-cache nothing is kept across runs.
    let (code, _) = p.run_json(&["s.yaml"]);
    assert_eq!((code, up.hits("/dep.crate")), (0, 2));
}

#[test]
fn offline_a_fetch_cache_that_holds_the_downloads_is_enough() {
    if !require_tool("curl") {
        return;
    }
    // `requires.network` names an endpoint that refuses connections: as on
    // an offline machine. The download itself is from the test's upstream,
    // so the first run can fill the cache.
    let up = Upstream::http(Routes::from([("/dep.whl".into(), blob(b"wheel bytes"))]));
    let p = Project::new();
    let url = up.url("http", "/dep.whl");
    let recipe = |name: &str, url: &str| {
        format!(
            "name: {name}\nnetwork: true\nvary: [hostname]\nrequires: {{network: [\"127.0.0.1:1\"]}}\n\
             build: |\n  mkdir -p $out\n  curl -fsS -o $out/dep {url}\n"
        )
    };
    p.file("s.yaml", &recipe("offline", &url));
    let cache = p.path().join("fetch-cache");
    let cache_arg = cache.to_str().expect("utf-8");
    // Without a cache: skipped, as ever.
    let (code, plain) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{plain:#}");
    assert_eq!(scenario(&plain, "offline")["verdict"], "skipped");
    assert_eq!(up.hits("/dep.whl"), 0);
    // With a cache the scenario runs; what it downloads is kept.
    let (code, first) = p.run_json(&["--fetch-cache", cache_arg, "s.yaml"]);
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(scenario(&first, "offline")["verdict"], "pass");
    let (code, second) = p.run_json(&["--fetch-cache", cache_arg, "s.yaml"]);
    assert_eq!(code, 0, "{second:#}");
    assert_eq!(scenario(&second, "offline")["verdict"], "pass");
    assert_eq!(
        fetch(scenario(&second, "offline"), &url)["from_cache"],
        true
    );
    assert_eq!(up.hits("/dep.whl"), 1);
    // A download the cache does not hold, from an unreachable upstream:
    // skipped (not failed), naming the endpoint and what was missing.
    let gone = "http://127.0.0.2:1/missing.whl";
    p.file("t.yaml", &recipe("uncached", gone));
    let (code, third) = p.run_json(&["--fetch-cache", cache_arg, "t.yaml"]);
    assert_eq!(code, 0, "{third:#}");
    let t = scenario(&third, "uncached");
    assert_eq!(t["verdict"], "skipped", "{t:#}");
    let reason = t["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("network unreachable: 127.0.0.1:1")
            && reason.ends_with(&format!("does not hold {gone}")),
        "{reason}"
    );
}
