//! The proxy's HTTP side: one hyper HTTP/1 connection per TCP connection a
//! build's relay opens, CONNECT opened with the run's CA (a TLS server per
//! host), each request checked against the allowlist, answered from the
//! cache or upstream, and recorded.

use super::cache::Answer;
use super::{Fetch, Shared, Who};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256, Sha512};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The upstream client: HTTP and HTTPS, HTTP/1.1.
pub type Client =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One whole upstream exchange may take this long; a build's own timeout
/// is usually shorter.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(600);

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
];

pub fn client(config: rustls::ClientConfig) -> Client {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(super::CONNECT_TIMEOUT));
    // Small writes (TLS handshakes, requests) go out at once, not after
    // the upstream's delayed ACK.
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https)
}

/// Serve every connection made on a build's socket.
pub async fn accept_loop(listener: tokio::net::UnixListener, shared: Arc<Shared>, who: Arc<Who>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: let a moment pass.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (shared, who) = (shared.clone(), who.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                handle(req, shared.clone(), who.clone(), None)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// `host` and port of an authority, without brackets around IPv6.
fn split_authority(a: &hyper::http::uri::Authority, default_port: u16) -> (String, u16) {
    let host = a.host().trim_start_matches('[').trim_end_matches(']');
    (host.to_string(), a.port_u16().unwrap_or(default_port))
}

fn refusal(who: &Who, host: &str) -> String {
    let list = match &who.policy {
        super::Policy::Allow(l) => l.join(", "),
        super::Policy::Any => String::new(),
    };
    format!(
        "envtwin proxy: host {host} refused: it is not in this scenario's network.allow [{list}]; \
         add it there to let builds reach it\n"
    )
}

/// Refuse a request to a host not allowed, and record the refusal (the
/// build's failure message names the host from it).
fn refuse(
    shared: &Shared,
    who: &Who,
    method: &str,
    shown: &str,
    host: &str,
) -> Response<Full<Bytes>> {
    let body = refusal(who, host);
    let problem = Some(body.trim().to_string());
    record(shared, who, method, shown, 403, &[], None, false, problem);
    text(StatusCode::FORBIDDEN, body)
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    who: Arc<Who>,
    tunnel: Option<String>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == Method::CONNECT {
        return Ok(connect(req, shared, who));
    }
    let url = match &tunnel {
        Some(authority) => format!(
            "https://{authority}{}",
            req.uri().path_and_query().map_or("/", |p| p.as_str())
        ),
        None if req.uri().scheme_str() == Some("http") => req.uri().to_string(),
        None => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!(
                    "envtwin proxy: `{}` is not a proxy request; use http_proxy/https_proxy\n",
                    req.uri()
                ),
            ));
        }
    };
    let shown = super::strip_credentials(&url);
    let method = req.method().to_string();
    let host = match url
        .parse::<hyper::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| split_authority(a, 80).0))
    {
        Some(h) => h,
        None => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!("envtwin proxy: no host in {shown}\n"),
            ));
        }
    };
    if !who.policy.allows(&host) {
        return Ok(refuse(&shared, &who, &method, &shown, &host));
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!("envtwin proxy: reading the request: {e}\n"),
            ));
        }
    };
    let (answer, from_cache) = if parts.method == Method::GET {
        let (client, url2, headers) = (shared.client.clone(), url.clone(), parts.headers.clone());
        // Keyed by what is asked for too: pip asks an index for JSON, curl
        // for HTML, and they must not get each other's answer.
        let accept = headers
            .get(hyper::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let key = if accept.is_empty() {
            url.clone()
        } else {
            format!("{url}\naccept: {accept}")
        };
        shared
            .cache
            .get(&key, || {
                upstream(
                    client,
                    Method::GET,
                    url2,
                    headers,
                    Bytes::new(),
                    host.clone(),
                )
            })
            .await
    } else {
        let a = upstream(
            shared.client.clone(),
            parts.method.clone(),
            url.clone(),
            parts.headers.clone(),
            body,
            host.clone(),
        )
        .await;
        (Arc::new(a), false)
    };
    record(
        &shared,
        &who,
        &method,
        &shown,
        answer.status,
        &answer.body,
        answer
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .and_then(|(_, v)| std::str::from_utf8(v).ok()),
        from_cache,
        answer.error.clone(),
    );
    Ok(respond(&answer))
}

fn respond(a: &Answer) -> Response<Full<Bytes>> {
    if let Some(e) = &a.error {
        return text(StatusCode::BAD_GATEWAY, format!("{e}\n"));
    }
    let mut r = Response::new(Full::new(a.body.clone()));
    *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in &a.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_bytes(v)) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

/// CONNECT host:port: refuse a host not allowed; else answer 200 and, once
/// the client's TLS starts, be that host with a certificate of the run's CA.
fn connect(req: Request<Incoming>, shared: Arc<Shared>, who: Arc<Who>) -> Response<Full<Bytes>> {
    let Some(authority) = req.uri().authority().cloned() else {
        return text(
            StatusCode::BAD_REQUEST,
            "envtwin proxy: CONNECT needs host:port\n".into(),
        );
    };
    let (host, port) = split_authority(&authority, 443);
    if !who.policy.allows(&host) {
        let shown = format!("https://{}/", authority.as_str());
        return refuse(&shared, &who, "CONNECT", &shown, &host);
    }
    let config = match shared.ca.server_config(&host) {
        Ok(c) => c,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("envtwin proxy: {e}\n"),
            );
        }
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let Ok(tls) = acceptor.accept(TokioIo::new(upgraded)).await else {
            return;
        };
        let shown = if port == 443 {
            authority.host().to_string()
        } else {
            authority.as_str().to_string()
        };
        let svc = hyper::service::service_fn(move |req| {
            handle(req, shared.clone(), who.clone(), Some(shown.clone()))
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tls), svc)
            .await;
    });
    Response::new(Full::new(Bytes::new()))
}

/// Ask upstream; any failure to get an answer is an `Answer` whose `error`
/// says the upstream was unreachable, and why.
async fn upstream(
    client: Client,
    method: Method,
    url: String,
    headers: hyper::HeaderMap,
    body: Bytes,
    host: String,
) -> Answer {
    let unreachable = |why: String| Answer {
        status: 502,
        headers: vec![],
        body: Bytes::new(),
        error: Some(format!("envtwin proxy: upstream {host} unreachable: {why}")),
    };
    let mut req = match Request::builder()
        .method(method)
        .uri(&url)
        .body(Full::new(body))
    {
        Ok(r) => r,
        Err(e) => return unreachable(format!("bad request: {e}")),
    };
    for (k, v) in &headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            req.headers_mut().append(k.clone(), v.clone());
        }
    }
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| {
            use std::error::Error;
            // The cause chain says what failed: DNS, connect, TLS.
            let mut msg = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        })?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>(Answer {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .filter(|(k, _)| !HOP_BY_HOP.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            body,
            error: None,
        })
    };
    match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await {
        Ok(Ok(a)) => a,
        Ok(Err(why)) => unreachable(why),
        Err(_) => unreachable(format!("no answer within {} s", EXCHANGE_TIMEOUT.as_secs())),
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    who: &Who,
    method: &str,
    url: &str,
    status: u16,
    body: &[u8],
    content_type: Option<&str>,
    from_cache: bool,
    problem: Option<String>,
) {
    let mut record = shared.record.lock().unwrap_or_else(|p| p.into_inner());
    let fetches = record.entry(who.scenario.clone()).or_default();
    let f = fetches
        .entry((method.to_string(), url.to_string()))
        .or_insert_with(|| Fetch {
            method: method.to_string(),
            url: url.to_string(),
            status,
            bytes: 0,
            sha256: String::new(),
            builds: Default::default(),
            from_cache: true,
            artifact: false,
            pinned: false,
            problem: None,
            sha512: vec![],
        });
    f.status = status;
    f.bytes = body.len() as u64;
    f.sha256 = super::cache::hex(&Sha256::digest(body));
    f.sha512 = Sha512::digest(body).to_vec();
    f.builds.insert(who.build.clone());
    f.from_cache &= from_cache;
    // A HEAD or POST answer is no download: nothing to pin.
    f.artifact = method == "GET" && problem.is_none() && super::is_artifact(status, content_type);
    if problem.is_some() {
        f.problem = problem;
    }
}
