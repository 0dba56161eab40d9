//! The network of a build (issue 14): a recording, caching, allow-listing
//! HTTP(S) proxy that builds with `network:` reach instead of the host's
//! network. Main type: `Proxy`, one per `envtwin run` that has a scenario
//! with network.
//!
//! A build keeps its own network namespace with loopback only. Each build
//! gets a unix socket of its own (`Proxy::attach`) in its tree; a relay in
//! the sandbox (`sandbox::inside`) turns `127.0.0.1:3128` into that socket,
//! so the proxy knows which build asked. HTTPS goes through CONNECT and is
//! opened with a per-run CA (`tls`) that only the sandboxes trust; the
//! proxy verifies the real upstream with the host's CA store. GET answers
//! are cached for the run (`cache`), so twins and rebuilds see the same
//! bytes; every request is recorded per scenario, and `pin` says which
//! downloads the scenario's files pin.

pub mod cache;
pub mod pin;
mod server;
pub mod tls;

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use tls::UPSTREAM_CA_VAR;

/// Where the relay inside a sandbox listens, as `http_proxy` names it.
pub const INSIDE_ADDR: &str = "127.0.0.1:3128";
/// How long connecting upstream may take before the build is told the
/// upstream is unreachable.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Which hosts a scenario's builds may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// `network: true`: any host.
    Any,
    /// `network: {allow: [...]}`: these hosts, `*.domain` for any name under domain.
    Allow(Vec<String>),
}

impl Policy {
    /// Whether `host` (no port) may be reached.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Policy::Any => true,
            Policy::Allow(list) => list.iter().any(|p| {
                let p = p.to_ascii_lowercase();
                match p.strip_prefix("*.") {
                    Some(domain) => host
                        .strip_suffix(domain)
                        .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
                    None => host == p,
                }
            }),
        }
    }
}

/// One URL a scenario's builds fetched, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Fetch {
    pub method: String,
    /// The URL with any user:password removed.
    pub url: String,
    /// The HTTP status the builds got (403: refused by the allowlist, 502:
    /// upstream unreachable).
    pub status: u16,
    /// Bytes of the body.
    pub bytes: u64,
    /// SHA-256 of the body, hex.
    pub sha256: String,
    /// Which builds asked: `a`, `b`, or a culprit-search rebuild's name.
    pub builds: BTreeSet<String>,
    /// Every request for it was answered from the cache (of this run or
    /// `--fetch-cache`): no build of this scenario went upstream for it.
    pub from_cache: bool,
    /// A download the pinning check applies to: an artifact, not an index
    /// page or API answer (text, HTML, JSON or XML), nor a refusal or error.
    pub artifact: bool,
    /// Its digest appears in a file of the scenario's directory.
    pub pinned: bool,
    /// Why it was not fetched: refused by `network.allow`, or upstream unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// SHA-512 of the body, kept for the pinning check only.
    #[serde(skip)]
    pub sha512: Vec<u8>,
}

/// Who a connection on a build's socket is.
struct Who {
    scenario: String,
    build: String,
    policy: Policy,
}

/// Per scenario, per (method, URL): what its builds fetched.
type Record = BTreeMap<String, BTreeMap<(String, String), Fetch>>;

/// State shared by the proxy's tasks.
struct Shared {
    ca: tls::Ca,
    client: server::Client,
    cache: cache::Cache,
    /// Scenario -> (method, URL) -> fetch.
    record: Mutex<Record>,
}

/// The run's proxy: a tokio runtime of its own and what it serves.
pub struct Proxy {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Proxy")
    }
}

/// A build's socket, served while this lives; dropped, the socket goes.
pub struct Attachment {
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Proxy {
    /// Start the proxy: a new CA, the upstream client, the cache (on disk
    /// in `fetch_cache` when given).
    pub fn start(fetch_cache: Option<PathBuf>) -> Result<Proxy, String> {
        if let Some(d) = &fetch_cache {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("--fetch-cache {}: {e}", d.display()))?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("envtwin-proxy")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the proxy's runtime: {e}"))?;
        let client = {
            let _guard = runtime.enter();
            server::client(tls::upstream_config()?)
        };
        Ok(Proxy {
            runtime,
            shared: Arc::new(Shared {
                ca: tls::Ca::generate()?,
                client,
                cache: cache::Cache::new(fetch_cache),
                record: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The `--fetch-cache` directory, when one was given.
    pub fn fetch_cache(&self) -> Option<&Path> {
        self.shared.cache.dir()
    }

    /// The per-run CA certificate (PEM) builds must trust.
    pub fn ca_pem(&self) -> &str {
        self.shared.ca.pem()
    }

    /// Serve `build` of `scenario` on a new unix socket at `path`.
    pub fn attach(
        &self,
        path: &Path,
        scenario: &str,
        build: &str,
        policy: &Policy,
    ) -> Result<Attachment, String> {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(path);
        // A socket's path is at most 107 bytes, and a build's tree may lie
        // deeper: bind through the directory's descriptor instead.
        let parent = std::fs::File::open(path.parent().unwrap_or(Path::new(".")))
            .map_err(|e| format!("proxy socket {}: {e}", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let short = format!("/proc/self/fd/{}/{name}", {
            use std::os::fd::AsRawFd;
            parent.as_raw_fd()
        });
        let listener = std::os::unix::net::UnixListener::bind(&short)
            .map_err(|e| format!("proxy socket {}: {e}", path.display()))?;
        drop(parent);
        // Whatever uid the build has inside, it may connect: the directory
        // around it (the build's tree, 0700) keeps everyone else out.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| format!("proxy socket {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("proxy socket {}: {e}", path.display()))?;
        let listener = {
            let _guard = self.runtime.enter();
            tokio::net::UnixListener::from_std(listener)
                .map_err(|e| format!("proxy socket {}: {e}", path.display()))?
        };
        let who = Arc::new(Who {
            scenario: scenario.to_string(),
            build: build.to_string(),
            policy: policy.clone(),
        });
        let task = self
            .runtime
            .spawn(server::accept_loop(listener, self.shared.clone(), who));
        Ok(Attachment {
            task,
            path: path.to_path_buf(),
        })
    }

    /// What `scenario`'s builds fetched, in URL order, with `pinned` set
    /// from the files of `dir`. The record of the scenario is taken.
    pub fn take_fetches(&self, scenario: &str, dir: &Path) -> Vec<Fetch> {
        let taken = self
            .shared
            .record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(scenario)
            .unwrap_or_default();
        let mut fetches: Vec<Fetch> = taken.into_values().collect();
        if fetches.is_empty() {
            return fetches;
        }
        let texts = pin::texts(dir);
        for f in &mut fetches {
            let sha256: Vec<u8> = (0..f.sha256.len() / 2)
                .filter_map(|i| u8::from_str_radix(&f.sha256[2 * i..2 * i + 2], 16).ok())
                .collect();
            f.pinned = f.artifact && pin::is_pinned(&sha256, &f.sha512, &texts);
        }
        fetches.sort_by(|x, y| (&x.url, &x.method).cmp(&(&y.url, &y.method)));
        fetches
    }
}

/// Whether an answer is an artifact (a wheel, a tarball, a crate) rather
/// than an index page or API answer, which no lock file could pin.
pub fn is_artifact(status: u16, content_type: Option<&str>) -> bool {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    (200..300).contains(&status)
        && !(ct.starts_with("text/")
            || ct.contains("json")
            || ct.contains("xml")
            || ct.contains("html"))
}

/// The one-line summary of a scenario's fetches: `7 (2 from cache), 6 unpinned`.
pub fn summary(fetches: &[Fetch]) -> String {
    let cached = fetches.iter().filter(|f| f.from_cache).count();
    let unpinned = fetches.iter().filter(|f| f.artifact && !f.pinned).count();
    let refused = fetches
        .iter()
        .filter(|f| f.status == 403 && f.problem.is_some())
        .count();
    let failed = fetches
        .iter()
        .filter(|f| f.status == 502 && f.problem.is_some())
        .count();
    let mut out = format!(
        "{} ({cached} from cache), {unpinned} unpinned",
        fetches.len()
    );
    if refused > 0 {
        out.push_str(&format!(", {refused} refused"));
    }
    if failed > 0 {
        out.push_str(&format!(", {failed} unreachable"));
    }
    out
}

/// `url` without `user:password@`.
pub fn strip_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The environment a build with network gets: the proxy, both cases, and
/// the per-run CA at `ca_file` for every tool that reads its own variable.
pub fn build_env(ca_file: &str) -> Vec<(String, String)> {
    let proxy = format!("http://{INSIDE_ADDR}");
    let mut env: Vec<(String, String)> = ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"]
        .iter()
        .map(|k| (k.to_string(), proxy.clone()))
        .collect();
    env.push(("no_proxy".into(), "localhost,127.0.0.1".into()));
    env.push(("NO_PROXY".into(), "localhost,127.0.0.1".into()));
    for k in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "NODE_EXTRA_CA_CERTS",
        "CARGO_HTTP_CAINFO",
        "GIT_SSL_CAINFO",
        "CURL_CA_BUNDLE",
        "NIX_SSL_CERT_FILE",
        // npm passes its own `ca` to node's TLS, which then ignores
        // NODE_EXTRA_CA_CERTS.
        "npm_config_cafile",
    ] {
        env.push((k.to_string(), ca_file.to_string()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_takes_hosts_and_subdomains() {
        let p = Policy::Allow(vec!["pypi.org".into(), "*.pythonhosted.org".into()]);
        assert!(p.allows("pypi.org"));
        assert!(p.allows("PyPI.org."));
        assert!(p.allows("files.pythonhosted.org"));
        assert!(!p.allows("pythonhosted.org"));
        assert!(!p.allows("evilpythonhosted.org"));
        assert!(!p.allows("pypi.org.evil.example"));
        assert!(Policy::Any.allows("anything.example"));
    }

    #[test]
    fn index_pages_and_errors_are_no_artifacts() {
        assert!(is_artifact(200, Some("application/octet-stream")));
        assert!(is_artifact(200, None));
        assert!(!is_artifact(200, Some("text/html; charset=utf-8")));
        assert!(!is_artifact(
            200,
            Some("application/vnd.pypi.simple.v1+json")
        ));
        assert!(!is_artifact(404, Some("application/octet-stream")));
    }

    #[test]
    fn the_summary_counts_cache_pins_refusals_and_failures() {
        let f = |status: u16, from_cache, artifact, pinned, problem: Option<&str>| Fetch {
            method: "GET".into(),
            url: "http://h/x".into(),
            status,
            bytes: 0,
            sha256: String::new(),
            builds: BTreeSet::new(),
            from_cache,
            artifact,
            pinned,
            problem: problem.map(String::from),
            sha512: vec![],
        };
        let all = [
            f(200, true, true, true, None),
            f(200, false, true, false, None),
            f(200, false, false, false, None),
            f(403, false, false, false, Some("refused")),
            f(502, false, false, false, Some("unreachable")),
        ];
        assert_eq!(
            summary(&all),
            "5 (1 from cache), 1 unpinned, 1 refused, 1 unreachable"
        );
    }

    #[test]
    fn credentials_are_stripped_from_urls() {
        assert_eq!(
            strip_credentials("https://u:secret@host:8443/a@b?x=1"),
            "https://host:8443/a@b?x=1"
        );
        assert_eq!(strip_credentials("http://host/p"), "http://host/p");
    }
}
