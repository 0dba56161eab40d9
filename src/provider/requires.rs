//! `requires:` preconditions checked on the host before anything is built.
//!
//! `requires.network` lists the endpoints a scenario downloads from (a
//! package registry). When one of them does not answer, the scenario is skipped
//! with that reason rather than failed: an offline CI machine says nothing
//! about the environment. Each endpoint is tried once per run, with a short
//! bound on name resolution and connection, whatever the number of
//! scenarios that list it.

use crate::scenario::Scenario;
use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

/// How long one endpoint may take to resolve and accept a connection.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the scenario cannot run here, or `None` when every endpoint it
/// requires answers.
pub fn unmet(s: &Scenario) -> Option<String> {
    let down: Vec<String> = s
        .requires_network
        .iter()
        .filter_map(|ep| reach_cached(ep).err().map(|e| format!("{ep} ({e})")))
        .collect();
    if down.is_empty() {
        return None;
    }
    Some(format!(
        "network unreachable: {} cannot be reached from this machine, and the build downloads from it \
         (`requires.network`); run it where the registry is reachable",
        down.join(", ")
    ))
}

fn reach_cached(endpoint: &str) -> Result<(), String> {
    static SEEN: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    // Held while probing, so parallel scenarios wait for the one answer.
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.entry(endpoint.to_owned())
        .or_insert_with(|| reach(endpoint, REACH_TIMEOUT))
        .clone()
}

/// Resolve `host:port` and open a TCP connection to it, all within
/// `timeout`. Resolution runs in its own thread because getaddrinfo has no
/// timeout of its own; a resolver that hangs is left behind, not waited for.
pub fn reach(endpoint: &str, timeout: Duration) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let ep = endpoint.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(ep.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
    });
    let addrs = match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
        Ok(Ok(_)) => return Err("no address".into()),
        Ok(Err(e)) => return Err(format!("cannot resolve: {e}")),
        Err(_) => {
            return Err(format!(
                "no answer from the resolver in {}s",
                timeout.as_secs()
            ));
        }
    };
    let mut last = String::new();
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_listening_port_is_reachable() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let ep = l.local_addr().expect("addr").to_string();
        assert_eq!(reach(&ep, Duration::from_secs(2)), Ok(()));
    }

    #[test]
    fn a_closed_port_is_not_and_says_why() {
        let ep = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").to_string()
        };
        let err = reach(&ep, Duration::from_secs(2)).expect_err("closed");
        assert!(err.contains(&ep) && err.contains("refused"), "{err}");
    }

    #[test]
    fn an_unresolvable_name_is_not() {
        let err = reach("no-such-host.invalid:443", Duration::from_secs(5)).expect_err("invalid");
        assert!(
            err.contains("cannot resolve") || err.contains("resolver"),
            "{err}"
        );
    }
}
