//! The proxy's cache: within a run, a URL fetched with GET and answered
//! 2xx is fetched upstream once, and every build asking for it (twins,
//! culprit-search rebuilds) gets those same bytes. Concurrent requests for
//! one URL wait for the single upstream fetch. With `--fetch-cache DIR` the
//! answers also persist, content-addressed (`DIR/sha256/<hex>`) with a URL
//! index (`DIR/urls/<sha256 of the URL>.json`), both written atomically.

use hyper::body::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// One upstream answer, as kept and replayed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// End-to-end headers only (no hop-by-hop, no content-length).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
    /// Why there is no real answer (upstream unreachable): the 502 says so.
    pub error: Option<String>,
}

impl Answer {
    fn cacheable(&self) -> bool {
        self.error.is_none() && (200..300).contains(&self.status)
    }
}

/// The URL index entry of the persistent cache.
#[derive(Serialize, Deserialize)]
struct IndexEntry {
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    sha256: String,
}

/// The run's cache: in memory, and on disk when `--fetch-cache` was given.
pub struct Cache {
    entries: Mutex<HashMap<String, Arc<OnceCell<Arc<Answer>>>>>,
    dir: Option<PathBuf>,
}

impl Cache {
    pub fn new(dir: Option<PathBuf>) -> Cache {
        Cache {
            entries: Mutex::new(HashMap::new()),
            dir,
        }
    }

    /// The persistent cache's directory (`--fetch-cache`), if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The answer for a GET keyed `url` (the URL, and what the request
    /// accepts): from the cache when there is one,
    /// else from `fetch`, kept when 2xx. The flag says whether it came from
    /// the cache (false: this very call went upstream).
    pub async fn get<F, Fut>(&self, url: &str, fetch: F) -> (Arc<Answer>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Answer>,
    {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.entry(url.to_string()).or_default().clone()
        };
        let went_upstream = AtomicBool::new(false);
        let result = cell
            .get_or_try_init(|| async {
                if let Some(a) = self.dir.as_deref().and_then(|d| load(d, url)) {
                    return Ok(Arc::new(a));
                }
                went_upstream.store(true, Ordering::Relaxed);
                let answer = fetch().await;
                if answer.cacheable() {
                    if let Some(d) = &self.dir {
                        // A cache that cannot be written only costs a
                        // download next time; the build goes on.
                        let _ = store(d, url, &answer);
                    }
                    Ok(Arc::new(answer))
                } else {
                    Err(answer)
                }
            })
            .await;
        match result {
            Ok(a) => (a.clone(), !went_upstream.load(Ordering::Relaxed)),
            Err(answer) => (Arc::new(answer), false),
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn index_path(dir: &Path, url: &str) -> PathBuf {
    dir.join("urls")
        .join(format!("{}.json", hex(&Sha256::digest(url.as_bytes()))))
}

fn load(dir: &Path, url: &str) -> Option<Answer> {
    let entry: IndexEntry =
        serde_json::from_slice(&std::fs::read(index_path(dir, url)).ok()?).ok()?;
    if entry.url != url
        || entry.sha256.len() != 64
        || !entry.sha256.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let body = std::fs::read(dir.join("sha256").join(&entry.sha256)).ok()?;
    // A damaged blob is a miss, never served.
    if hex(&Sha256::digest(&body)) != entry.sha256 {
        return None;
    }
    Some(Answer {
        status: entry.status,
        headers: entry
            .headers
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
        body: Bytes::from(body),
        error: None,
    })
}

/// Write `contents` to `path` through a temp file in the same directory
/// and a rename, so a reader never sees half a file.
fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(contents)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn store(dir: &Path, url: &str, a: &Answer) -> std::io::Result<()> {
    let sha = hex(&Sha256::digest(&a.body));
    let blob = dir.join("sha256").join(&sha);
    if !blob.exists() {
        write_atomic(&blob, &a.body)?;
    }
    let entry = IndexEntry {
        url: url.to_string(),
        status: a.status,
        headers: a
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), String::from_utf8(v.clone()).ok()?)))
            .collect(),
        sha256: sha,
    };
    let json = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
    write_atomic(&index_path(dir, url), &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &'static [u8]) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), b"text/plain".to_vec())],
            body: Bytes::from_static(body),
            error: None,
        }
    }

    #[test]
    fn a_2xx_get_is_fetched_once_and_an_error_every_time() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cache = Cache::new(None);
        rt.block_on(async {
            let (a, cached) = cache
                .get("http://h/x", || async { answer(200, b"one") })
                .await;
            assert_eq!((&a.body[..], cached), (&b"one"[..], false));
            let (a, cached) = cache
                .get("http://h/x", || async { answer(200, b"two") })
                .await;
            assert_eq!((&a.body[..], cached), (&b"one"[..], true));
            let (a, cached) = cache
                .get("http://h/e", || async { answer(404, b"no") })
                .await;
            assert_eq!((a.status, cached), (404, false));
            let (a, _) = cache
                .get("http://h/e", || async { answer(200, b"yes") })
                .await;
            assert_eq!(&a.body[..], b"yes");
        });
    }

    #[test]
    fn the_persistent_cache_survives_the_run_and_ignores_a_damaged_blob() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let first = Cache::new(Some(dir.path().to_path_buf()));
            first
                .get("http://h/x", || async { answer(200, b"body") })
                .await;
            let second = Cache::new(Some(dir.path().to_path_buf()));
            let (a, cached) = second
                .get("http://h/x", || async { answer(200, b"new") })
                .await;
            assert_eq!((&a.body[..], cached), (&b"body"[..], true));
            assert_eq!(
                a.headers,
                vec![("content-type".to_string(), b"text/plain".to_vec())]
            );
            let sha = hex(&Sha256::digest(b"body"));
            std::fs::write(dir.path().join("sha256").join(sha), b"bodY").unwrap();
            let third = Cache::new(Some(dir.path().to_path_buf()));
            let (a, cached) = third
                .get("http://h/x", || async { answer(200, b"new") })
                .await;
            assert_eq!((&a.body[..], cached), (&b"new"[..], false));
        });
    }
}
