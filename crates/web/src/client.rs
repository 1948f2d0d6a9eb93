//! Who is on the other end: the client's address (through trusted proxies only) and user
//! agent, for sessions, rate limits and the audit log.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use variosync_auth::ClientInfo;

use crate::state::AppState;

/// An address range such as `10.0.0.0/8`, `192.0.2.7` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr =
            address.trim().parse().map_err(|_| format!("{text:?} is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl IpRange {
    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses a comma-separated list of ranges.
pub fn parse_ranges(text: &str) -> Result<Vec<IpRange>, String> {
    text.split(',').map(str::trim).filter(|part| !part.is_empty()).map(IpRange::from_str).collect()
}

/// The client's address: the direct peer, unless the peer is a trusted proxy, in which case
/// the address that proxy reports (`CF-Connecting-IP`, else the right-most untrusted entry of
/// `X-Forwarded-For`). Headers from anyone else are ignored, so they cannot be forged.
pub fn client_ip(parts: &Parts, trusted: &[IpRange]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted.iter().any(|range| range.contains(peer)) {
        return Some(peer);
    }
    let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(ip) = header("cf-connecting-ip").and_then(|value| value.trim().parse().ok()) {
        return Some(ip);
    }
    if let Some(forwarded) = header("x-forwarded-for") {
        let hops: Vec<IpAddr> =
            forwarded.split(',').filter_map(|hop| hop.trim().parse().ok()).collect();
        if let Some(ip) =
            hops.iter().rev().find(|ip| !trusted.iter().any(|range| range.contains(**ip)))
        {
            return Some(*ip);
        }
    }
    Some(peer)
}

/// Extracts [`ClientInfo`] for a handler.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, &state.trusted_proxies).map(|ip| ip.to_string());
        let user_agent =
            parts.headers.get(USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned);
        Ok(Self(ClientInfo { ip, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_addresses_inside_them_only() {
        let private: IpRange = "10.0.0.0/8".parse().unwrap();
        assert!(private.contains("10.1.2.3".parse().unwrap()));
        assert!(!private.contains("11.0.0.1".parse().unwrap()));
        assert!(private.contains("::ffff:10.0.0.1".parse().unwrap()), "IPv4-mapped IPv6");
        let single: IpRange = "192.0.2.7".parse().unwrap();
        assert!(single.contains("192.0.2.7".parse().unwrap()));
        assert!(!single.contains("192.0.2.8".parse().unwrap()));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("nonsense".parse::<IpRange>().is_err());
        assert_eq!(parse_ranges(" 10.0.0.0/8, 127.0.0.1 ,").unwrap().len(), 2);
    }
}
