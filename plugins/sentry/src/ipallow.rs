//! Source addresses: which client sent a request (through trusted proxies' `X-Forwarded-For`)
//! and whether it is on the allow list.
//!
//! The allow list is a weak, second line of defence: Sentry's outbound addresses are shared by
//! all of its customers. Signatures and tokens are what authenticate a request.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// A problem with one entry of `[plugins.sentry.ip_allow]`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{key}: {message}")]
pub struct IpPolicyError {
    /// The key at fault (`cidrs[2]`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Allowed sources and trusted proxies.
#[derive(Clone, Debug)]
pub struct IpPolicy {
    allow: Vec<IpNet>,
    trusted: Vec<IpNet>,
    assumed_peer: IpAddr,
}

fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn nets(key: &str, items: &[String]) -> Result<Vec<IpNet>, IpPolicyError> {
    items
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_net(text).ok_or_else(|| IpPolicyError {
                key: format!("{key}[{i}]"),
                message: format!(
                    "`{text}` is not an address or CIDR (e.g. `35.184.238.160/32`, `2001:db8::/32`)"
                ),
            })
        })
        .collect()
}

impl IpPolicy {
    /// Builds the policy from config text.
    ///
    /// # Errors
    /// When an entry is not an address or CIDR; the error names it.
    pub fn new(
        allow: &[String],
        trusted: &[String],
        assumed_peer: &str,
    ) -> Result<Self, IpPolicyError> {
        let assumed_peer = assumed_peer
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| IpPolicyError {
                key: "assumed_peer".to_owned(),
                message: format!("`{assumed_peer}` is not an IP address"),
            })?;
        Ok(Self {
            allow: nets("cidrs", allow)?,
            trusted: nets("trusted_proxies", trusted)?,
            assumed_peer,
        })
    }

    /// True when `ip` is on the allow list.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allow.iter().any(|n| n.contains(&ip))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The TCP peer of a request: the connection's address when the web server reports it,
    /// otherwise `assumed_peer` (ferrbot listens on loopback behind a local proxy).
    pub fn peer(&self, extensions: &Extensions) -> IpAddr {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(self.assumed_peer, |c| canonical(c.0.ip()))
    }

    /// The client: the peer, or — when the peer is a trusted proxy — the right-most address
    /// in `X-Forwarded-For` that is not itself a trusted proxy. Addresses left of the first
    /// untrusted one were written by the client and are ignored.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Garbage in the chain: stop at the last address we could trust.
                return client;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// Reads one `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or
/// `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], trusted: &[&str]) -> IpPolicy {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        IpPolicy::new(&s(allow), &s(trusted), "127.0.0.1").unwrap()
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let p = policy(&["35.184.238.160/32"], &["127.0.0.1/32", "10.0.0.0/8"]);
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.7".parse().unwrap();
        let cases = [
            (local, "35.184.238.160", "35.184.238.160"),
            // A client-written entry left of the proxy's own is ignored.
            (local, "35.184.238.160, 203.0.113.9", "203.0.113.9"),
            (local, "203.0.113.9, 35.184.238.160", "35.184.238.160"),
            // Trusted hops are skipped from the right.
            (local, "35.184.238.160, 10.1.2.3", "35.184.238.160"),
            (local, "[2001:db8::1]:443", "2001:db8::1"),
            (local, "35.184.238.160:5555", "35.184.238.160"),
            (local, "garbage", "127.0.0.1"),
            // An untrusted peer's header is not believed.
            (stranger, "35.184.238.160", "203.0.113.7"),
        ];
        for (peer, header, expected) in cases {
            let got = p.client(peer, &xff(header));
            assert_eq!(got.to_string(), expected, "{peer} {header}");
        }
        assert_eq!(p.client(local, &HeaderMap::new()), local);
    }

    #[test]
    fn allow_list_matches_cidrs_and_mapped_addresses() {
        let p = policy(&["35.184.238.160/32", "2600:1901::/32", "10.0.0.0/8"], &[]);
        for (ip, ok) in [
            ("35.184.238.160", true),
            ("35.184.238.161", false),
            ("::ffff:35.184.238.160", true),
            ("2600:1901:0:1::5", true),
            ("10.200.1.1", true),
            ("127.0.0.1", false),
        ] {
            assert_eq!(p.allows(ip.parse().unwrap()), ok, "{ip}");
        }
    }

    #[test]
    fn bad_entries_are_named() {
        let e = IpPolicy::new(&["1.2.3.4".into(), "x".into()], &[], "127.0.0.1").unwrap_err();
        assert_eq!(e.key, "cidrs[1]");
        let e = IpPolicy::new(&[], &[], "nope").unwrap_err();
        assert_eq!(e.key, "assumed_peer");
    }
}
