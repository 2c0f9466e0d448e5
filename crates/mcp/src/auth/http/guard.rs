//! The address guard of the OAuth requests (anti-SSRF), after rmcp 3.11's own
//! (`transport/auth/metadata_resolver.rs`): a remote MCP server is not trusted, and its OAuth
//! metadata may name hosts that resolve to the cloud metadata service or the local network.
//!
//! Public addresses are always reached. Loopback addresses only when the MCP server's URL names
//! this machine (a loopback IP literal, `localhost`); private addresses (RFC 1918, CGNAT
//! `100.64.0.0/10`, IPv6 `fc00::/7`) only when it names a private IP literal or a name only a
//! local network resolves (one label, as a container's name, or under `.internal`, `.local`,
//! `.lan`, `.home.arpa`: the operator wrote it, the server cannot choose it); link-local
//! (`169.254.0.0/16`, `fe80::/10`), unspecified, multicast, broadcast, documentation and
//! reserved addresses never. The DNS answers of the MCP server's own host never widen this: they
//! are the server's to choose. An IPv6 address embedding an IPv4 one counts as that IPv4.
//!
//! The check is on the addresses connected to: [`Guard`] is the clients' DNS resolver and drops
//! the addresses out of reach; a URL naming an IP literal (which reqwest connects to without
//! resolving) is checked before it is sent, and so is every redirect target. The host of a
//! configured proxy (`HTTP_PROXY` and the like) is not filtered: a proxied request resolves only
//! the proxy's name, as in rmcp.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// The proxy variables reqwest reads: their hosts are not filtered.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The kind of an address, for the guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressClass {
    /// Reachable from anywhere: always allowed.
    Public,
    /// This machine.
    Loopback,
    /// A private network: RFC 1918, CGNAT, IPv6 unique local.
    Private,
    /// Never reached: link-local (cloud metadata), unspecified, multicast, broadcast,
    /// documentation, reserved.
    Blocked,
}

use AddressClass::{Blocked, Loopback, Private};

/// The non-public IPv4 ranges: network, prefix length, class and name.
const V4_RANGES: &[(Ipv4Addr, u32, AddressClass, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, Blocked, "unspecified"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, Private, "private"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, Private, "private (CGNAT)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Loopback, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, Blocked, "link-local"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, Private, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, Blocked, "reserved"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, Blocked, "documentation"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, Private, "private"),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        Blocked,
        "reserved (benchmarking)",
    ),
    (Ipv4Addr::new(198, 51, 100, 0), 24, Blocked, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, Blocked, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Blocked, "multicast"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        Blocked,
        "reserved or broadcast",
    ),
];

/// The non-public IPv6 ranges (after the embedded IPv4 ones): as [`V4_RANGES`].
const V6_RANGES: &[(Ipv6Addr, u32, AddressClass, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, Blocked, "unspecified"),
    (Ipv6Addr::LOCALHOST, 128, Loopback, "loopback"),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        Blocked,
        "reserved (local NAT64)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        Blocked,
        "reserved (discard)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        32,
        Blocked,
        "reserved (Teredo)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        Blocked,
        "documentation",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        Private,
        "private",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        Blocked,
        "link-local",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        Blocked,
        "reserved (site-local)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        Blocked,
        "multicast",
    ),
];

impl AddressClass {
    /// The class of `ip`.
    pub(crate) fn of(ip: IpAddr) -> Self {
        classify(ip).0
    }
}

/// The class of `ip` and its name in a message ("link-local"); an IPv6 address embedding an
/// IPv4 one is classified as that IPv4 address.
fn classify(ip: IpAddr) -> (AddressClass, &'static str) {
    let ip = match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    let found = match ip {
        IpAddr::V4(v4) => V4_RANGES
            .iter()
            .find(|(net, len, ..)| same_prefix(v4.to_bits().into(), net.to_bits().into(), *len, 32))
            .map(|&(_, _, class, name)| (class, name)),
        IpAddr::V6(v6) => V6_RANGES
            .iter()
            .find(|(net, len, ..)| same_prefix(v6.to_bits(), net.to_bits(), *len, 128))
            .map(|&(_, _, class, name)| (class, name)),
    };
    found.unwrap_or((AddressClass::Public, "public"))
}

/// Whether `a` and `b`, numbers of `width` bits, share their first `len` bits.
fn same_prefix(a: u128, b: u128, len: u32, width: u32) -> bool {
    (a ^ b).checked_shr(width - len).unwrap_or(0) == 0
}

/// The IPv4 address an IPv6 one embeds, as rmcp reads them: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    let low = Ipv4Addr::from((u32::from(g) << 16) | u32::from(h));
    match [a, b, c, d, e, f] {
        [0, 0, 0, 0, 0, 0xffff] | [0x64, 0xff9b, 0, 0, 0, 0] => Some(low),
        [0, 0, 0, 0, 0, 0] if !ip.is_loopback() && !ip.is_unspecified() => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::from((u32::from(b) << 16) | u32::from(c))),
        _ => None,
    }
}

/// Which non-public addresses the OAuth requests made for one MCP server may reach, decided by
/// that server's URL alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Public addresses only: the MCP server's URL names a host name or a public address.
    Public,
    /// Public and loopback: the URL names this machine (loopback literal, `localhost`).
    Loopback,
    /// Public and private: the URL names a private IP literal or a local network name.
    Private,
}

impl Reach {
    /// Every reach, in the order of [`Reach::index`].
    pub(crate) const ALL: [Reach; 3] = [Reach::Public, Reach::Loopback, Reach::Private];

    /// The reach of the OAuth requests for the MCP server at `server_url` (public only when it
    /// does not parse).
    pub(crate) fn of_server(server_url: &str) -> Self {
        let url = Url::parse(server_url).ok();
        match url
            .as_ref()
            .and_then(Url::host)
            .map_or(AddressClass::Public, class_of_host)
        {
            Loopback => Self::Loopback,
            Private => Self::Private,
            _ => Self::Public,
        }
    }

    /// This reach's place in [`Reach::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Whether an address of `class` may be reached.
    fn allows(self, class: AddressClass) -> bool {
        matches!(
            (self, class),
            (_, AddressClass::Public) | (Self::Loopback, Loopback) | (Self::Private, Private)
        )
    }

    /// What the operator can do about an address out of reach.
    fn advice(self) -> &'static str {
        match self {
            Self::Public => {
                "the MCP server's URL names a public host, so the OAuth hosts it sends the bot to \
                 must be public too (link-local, loopback and private addresses are refused: a \
                 remote server could otherwise reach the cloud metadata service or the local \
                 network). If this authorization server really runs on this machine or the local \
                 network, name the MCP server in its URL by its loopback or private IP address, or \
                 by a local network name (one without a dot, or under .internal, .local, .lan or \
                 .home.arpa); otherwise ask the server's operator to fix its OAuth metadata"
            }
            Self::Loopback => {
                "the MCP server's URL names this machine, so its OAuth hosts may be public or on \
                 this machine, never link-local, private, multicast or reserved addresses; ask the \
                 server's operator to fix its OAuth metadata"
            }
            Self::Private => {
                "the MCP server's URL names a private address, so its OAuth hosts may be public or \
                 private, never link-local, loopback, multicast or reserved addresses; ask the \
                 server's operator to fix its OAuth metadata"
            }
        }
    }
}

/// The class of the addresses the operator meant by `host`: an IP literal's own; loopback for
/// `localhost`; private for a local network name; public for any other name.
fn class_of_host(host: Host<&str>) -> AddressClass {
    match host {
        Host::Domain(name) if is_localhost(name) => Loopback,
        Host::Domain(name) if is_local_network_name(name) => Private,
        Host::Domain(_) => AddressClass::Public,
        Host::Ipv4(ip) => AddressClass::of(ip.into()),
        Host::Ipv6(ip) => AddressClass::of(ip.into()),
    }
}

/// `localhost` or a name under it (as rmcp counts them).
fn is_localhost(name: &str) -> bool {
    let name = normalize(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// A name only a local network resolves: a single label (`mcp`, a container's name) or one
/// under a suffix kept for private use.
fn is_local_network_name(name: &str) -> bool {
    let name = normalize(name);
    !name.contains('.')
        || [".internal", ".local", ".lan", ".home.arpa"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// A host name as compared: lower case, without a final dot.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// An OAuth request the guard stopped; the message says why and what to do.
#[derive(Clone, Debug)]
pub(crate) struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The guard of the OAuth clients of one [`Reach`]: their DNS resolver, and the check of the IP
/// literals and redirect targets they are asked for.
#[derive(Clone)]
pub(crate) struct Guard {
    reach: Reach,
    /// The hosts of the configured proxies, not filtered.
    proxies: Arc<[String]>,
}

impl Guard {
    /// The guard of `reach`, exempting the proxies configured in the environment now.
    pub(crate) fn new(reach: Reach) -> Self {
        let proxies = PROXY_VARIABLES
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .filter_map(|proxy| proxy_host(&proxy))
            .collect();
        Self { reach, proxies }
    }

    /// Refuses `url` when its host is an IP literal out of reach (host names are checked when
    /// resolved).
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        let (class, name) = classify(ip);
        if self.reach.allows(class) {
            return Ok(());
        }
        Err(Refused(format!(
            "the bot does not send OAuth requests to {name} addresses such as {ip}: {}",
            self.reach.advice()
        )))
    }

    /// A redirect policy following at most `limit` redirects, none to an IP literal out of reach.
    pub(crate) fn redirects(&self, limit: usize) -> reqwest::redirect::Policy {
        let guard = self.clone();
        let limited = reqwest::redirect::Policy::limited(limit);
        reqwest::redirect::Policy::custom(move |attempt| match guard.check_url(attempt.url()) {
            Ok(()) => limited.redirect(attempt),
            Err(refused) => attempt.error(Refused(format!("a redirect was refused: {refused}"))),
        })
    }

    /// Keeps the addresses in reach among those `host` resolved to, or says why there is none.
    fn filter(&self, host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        if self.proxies.contains(&normalize(host)) {
            return Ok(resolved);
        }
        let (kept, refused): (Vec<_>, Vec<_>) = resolved
            .into_iter()
            .partition(|address| self.reach.allows(AddressClass::of(address.ip())));
        if !kept.is_empty() {
            return Ok(kept);
        }
        if refused.is_empty() {
            return Err(Refused(format!("`{host}` resolves to no address")));
        }
        let listed: Vec<String> = refused
            .iter()
            .map(|address| format!("{} {}", classify(address.ip()).1, address.ip()))
            .collect();
        Err(Refused(format!(
            "`{host}` resolves only to addresses the bot does not reach for OAuth ({}): {}",
            listed.join(", "),
            self.reach.advice()
        )))
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let host = name.as_str();
            let resolved = tokio::net::lookup_host((host, 0)).await?.collect();
            let kept = guard.filter(host, resolved)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The host of a proxy variable's value (`http://proxy:3128`, or just `proxy:3128`).
fn proxy_host(proxy: &str) -> Option<String> {
    let url = if proxy.contains("://") {
        Url::parse(proxy)
    } else {
        Url::parse(&format!("http://{proxy}"))
    };
    url.ok()?.host_str().map(normalize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_classified_like_rmcp_does() {
        let class = |ip: &str| AddressClass::of(ip.parse().unwrap());
        assert_eq!(class("169.254.169.254"), Blocked);
        assert_eq!(class("10.0.0.1"), Private);
        assert_eq!(class("127.0.0.1"), Loopback);
        assert_eq!(class("::ffff:169.254.169.254"), Blocked);
        assert_eq!(class("8.8.8.8"), AddressClass::Public);
        assert_eq!(class("100.64.0.1"), Private);
        assert_eq!(class("fe80::1"), Blocked);
        assert_eq!(class("fc00::1"), Private);
        // Beyond the brief: the rest of rmcp's cases and a few edges.
        assert_eq!(class("::1"), Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), Loopback);
        assert_eq!(class("172.31.255.255"), Private);
        assert_eq!(class("172.32.0.1"), AddressClass::Public);
        assert_eq!(class("100.128.0.1"), AddressClass::Public);
        assert_eq!(class("192.168.1.1"), Private);
        assert_eq!(class("0.0.0.0"), Blocked);
        assert_eq!(class("255.255.255.255"), Blocked);
        assert_eq!(class("224.0.0.1"), Blocked);
        assert_eq!(class("192.0.2.1"), Blocked);
        assert_eq!(class("::"), Blocked);
        assert_eq!(class("ff02::1"), Blocked);
        assert_eq!(class("2001:db8::1"), Blocked);
        assert_eq!(class("64:ff9b::a9fe:a9fe"), Blocked);
        assert_eq!(class("2002:a9fe:a9fe::"), Blocked);
        assert_eq!(class("::169.254.169.254"), Blocked);
        assert_eq!(class("2002:7f00:1::"), Loopback);
        assert_eq!(class("64:ff9b::a00:9"), Private);
        assert_eq!(class("64:ff9b::5db8:d822"), AddressClass::Public);
        assert_eq!(class("2001:0:4136:e378::1"), Blocked);
        assert_eq!(class("64:ff9b:1::a9fe:a9fe"), Blocked);
        assert_eq!(class("2606:4700::1111"), AddressClass::Public);
    }

    #[test]
    fn the_reach_comes_from_the_server_url_alone() {
        let reach = Reach::of_server;
        assert_eq!(reach("http://127.0.0.1:8080/mcp"), Reach::Loopback);
        assert_eq!(reach("http://[::1]:8080/mcp"), Reach::Loopback);
        assert_eq!(reach("http://localhost:8080/mcp"), Reach::Loopback);
        assert_eq!(reach("http://LocalHost.:8080/mcp"), Reach::Loopback);
        assert_eq!(reach("http://mcp.localhost/mcp"), Reach::Loopback);
        assert_eq!(reach("https://10.1.2.3/mcp"), Reach::Private);
        assert_eq!(reach("https://[fd00::1]/mcp"), Reach::Private);
        // Names only a local network resolves, as the operator wrote them.
        assert_eq!(reach("http://mcp:8000/mcp"), Reach::Private);
        assert_eq!(
            reach("http://mcp.tools.svc.cluster.local/mcp"),
            Reach::Private
        );
        assert_eq!(reach("https://auth.internal/mcp"), Reach::Private);
        assert_eq!(reach("http://NAS.Home.Arpa./mcp"), Reach::Private);
        assert_eq!(reach("https://mcp.example.com/mcp"), Reach::Public);
        assert_eq!(reach("https://93.184.216.34/mcp"), Reach::Public);
        // A host name whose DNS answers are internal does not widen anything.
        assert_eq!(reach("https://internal.corp/mcp"), Reach::Public);
        assert_eq!(reach("http://169.254.169.254/mcp"), Reach::Public);
        assert_eq!(reach("not a url"), Reach::Public);
        for (index, reach) in Reach::ALL.into_iter().enumerate() {
            assert_eq!(reach.index(), index);
        }
    }

    #[test]
    fn ip_literals_follow_the_reach() {
        let check = |reach, url: &str| Guard::new(reach).check_url(&Url::parse(url).unwrap());
        let error = check(Reach::Public, "http://169.254.169.254/latest/meta-data/").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("link-local addresses such as 169.254.169.254")
        );
        assert!(check(Reach::Public, "http://127.0.0.1:6379/").is_err());
        assert!(check(Reach::Public, "http://[::1]:6379/").is_err());
        assert!(check(Reach::Public, "http://10.0.0.1/token").is_err());
        assert!(check(Reach::Public, "https://93.184.216.35/token").is_ok());
        assert!(check(Reach::Public, "https://auth.example.com/token").is_ok());
        assert!(check(Reach::Loopback, "http://127.0.0.1:6379/").is_ok());
        assert!(check(Reach::Loopback, "http://10.0.0.1/").is_err());
        assert!(check(Reach::Loopback, "http://[fe80::1]/").is_err());
        assert!(check(Reach::Private, "http://10.0.0.1/").is_ok());
        assert!(check(Reach::Private, "http://127.0.0.1/").is_err());
        assert!(check(Reach::Private, "http://169.254.169.254/").is_err());
    }

    #[tokio::test]
    async fn localhost_is_refused_by_the_resolver_for_a_public_server() {
        let resolve = |reach| Guard::new(reach).resolve("localhost".parse().unwrap());
        let error = resolve(Reach::Public).await.err().unwrap().to_string();
        assert!(
            error.starts_with("`localhost` resolves only to addresses the bot does not reach"),
            "{error}"
        );
        assert!(error.contains("loopback"), "{error}");
        let kept: Vec<SocketAddr> = resolve(Reach::Loopback).await.unwrap().collect();
        assert!(!kept.is_empty());
        assert!(kept.iter().all(|address| address.ip().is_loopback()));
    }

    #[test]
    fn proxy_hosts_are_not_filtered() {
        assert_eq!(
            proxy_host("http://Proxy.Corp:3128"),
            Some("proxy.corp".into())
        );
        assert_eq!(proxy_host("10.0.0.3:3128"), Some("10.0.0.3".into()));
        let guard = Guard {
            reach: Reach::Public,
            proxies: vec!["proxy.corp".to_owned()].into(),
        };
        let private: SocketAddr = "10.0.0.3:0".parse().unwrap();
        assert_eq!(
            guard.filter("proxy.corp", vec![private]).unwrap(),
            vec![private]
        );
        assert!(guard.filter("other.corp", vec![private]).is_err());
        let public: SocketAddr = "8.8.8.8:0".parse().unwrap();
        assert_eq!(
            guard
                .filter("mixed.example", vec![private, public])
                .unwrap(),
            vec![public]
        );
    }
}
