//! This machine's own network addresses: where a meeting hosted here can be reached from
//! other computers (the app's "host for the network"), and where the media workers of a server
//! on loopback also listen when `media_on_interfaces` is set (a browser that gathers no
//! loopback candidates, such as Firefox, reaches a server on the same machine only that way).

use std::net::IpAddr;

/// Whether other computers could reach this computer by `ip`: not loopback, unspecified,
/// link-local (which needs an interface named in every link) or multicast.
pub fn reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast())
        }
        IpAddr::V6(a) => {
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || a.is_unicast_link_local()
                || a.to_ipv4_mapped().is_some())
        }
    }
}

/// Every address of every interface, with the interface's name (loopback included). Empty
/// where the system cannot list them.
#[cfg(unix)]
pub fn all() -> Vec<(String, IpAddr)> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    list.filter_map(|i| {
        let addr = i.address?;
        let ip = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else {
            IpAddr::V6(addr.as_sockaddr_in6()?.ip())
        };
        Some((i.interface_name, ip))
    })
    .collect()
}

/// Every address of every interface (none listed on this system).
#[cfg(not(unix))]
pub fn all() -> Vec<(String, IpAddr)> {
    Vec::new()
}

/// This machine's addresses other computers could reach, of the same family as `like`, in a
/// stable order, at most `max`.
pub fn reachable_like(like: IpAddr, max: usize) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = all()
        .into_iter()
        .map(|(_, ip)| ip)
        .filter(|ip| reachable(*ip) && ip.is_ipv4() == like.is_ipv4())
        .collect();
    ips.sort();
    ips.dedup();
    ips.truncate(max);
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_others_can_reach_count() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.3.4",
            "::1",
            "fe80::1",
            "224.0.0.1",
        ] {
            assert!(!reachable(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.168.1.20", "10.0.0.2", "fd00::5"] {
            assert!(reachable(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_machines_addresses_include_loopback_and_reachable_ones_leave_it_out() {
        let all = all();
        assert!(
            all.iter().any(|(_, ip)| ip.is_loopback()),
            "loopback is listed: {all:?}"
        );
        let v4 = reachable_like("127.0.0.1".parse().unwrap(), 4);
        assert!(
            v4.iter().all(|ip| ip.is_ipv4() && !ip.is_loopback()),
            "{v4:?}"
        );
        assert!(v4.len() <= 4);
    }
}
