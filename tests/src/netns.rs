//! A second computer for tests: a network namespace joined to this one by a veth pair, on a
//! private /24 that only the test uses. What runs inside sees its own address and this
//! computer's address on the pair, nothing else (no loopback of this computer, no other
//! network).

use std::net::Ipv4Addr;
use std::process::Command;

/// A test network of two computers: this one (`host_ip`, on `host_if`) and the namespace
/// `name` (`guest_ip`). Removed on drop.
pub struct Lan {
    /// The namespace's name, for `ip netns exec`.
    pub name: String,
    /// This computer's address on the test network.
    pub host_ip: Ipv4Addr,
    /// The namespace's address.
    pub guest_ip: Ipv4Addr,
    /// This computer's end of the veth pair.
    pub host_if: String,
    /// This computer's IPv6 address on the test network (a unique local address).
    pub host_ip6: std::net::Ipv6Addr,
    /// The namespace's IPv6 address.
    pub guest_ip6: std::net::Ipv6Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (Debian's iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lan {
    /// Make the namespace and the veth pair (needs root, as CI is). The subnet and the names
    /// come from this process's id, so parallel test runs do not meet.
    pub fn create() -> Lan {
        let pid = std::process::id();
        let n = (pid % 200 + 20) as u8;
        let m = ((pid / 200) % 250) as u8;
        let lan = Lan {
            name: format!("parley-lan-{pid}"),
            host_ip: Ipv4Addr::new(10, 200 + n % 50, m, 1),
            guest_ip: Ipv4Addr::new(10, 200 + n % 50, m, 2),
            host_if: format!("pl{pid}h"),
            host_ip6: format!("fd70:{:x}::1", pid & 0xffff).parse().unwrap(),
            guest_ip6: format!("fd70:{:x}::2", pid & 0xffff).parse().unwrap(),
        };
        let guest_if = format!("pl{pid}g");
        let _ = ip(&["netns", "del", &lan.name]);
        let _ = ip(&["link", "del", &lan.host_if]);
        let host_cidr = format!("{}/24", lan.host_ip);
        let guest_cidr = format!("{}/24", lan.guest_ip);
        let host_cidr6 = format!("{}/64", lan.host_ip6);
        let guest_cidr6 = format!("{}/64", lan.guest_ip6);
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &lan.name],
            vec![
                "link",
                "add",
                &lan.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &guest_if,
            ],
            vec!["link", "set", &guest_if, "netns", &lan.name],
            vec!["addr", "add", &host_cidr, "dev", &lan.host_if],
            // No duplicate-address detection: the addresses are usable at once.
            vec!["addr", "add", &host_cidr6, "dev", &lan.host_if, "nodad"],
            vec!["link", "set", &lan.host_if, "up"],
            vec![
                "-n",
                &lan.name,
                "addr",
                "add",
                &guest_cidr,
                "dev",
                &guest_if,
            ],
            vec![
                "-n",
                &lan.name,
                "addr",
                "add",
                &guest_cidr6,
                "dev",
                &guest_if,
                "nodad",
            ],
            vec!["-n", &lan.name, "link", "set", &guest_if, "up"],
            vec!["-n", &lan.name, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if let Err(e) = ip(&step) {
                panic!("could not make the test network (this test needs root): {e}");
            }
        }
        lan
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and with it ours.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}
