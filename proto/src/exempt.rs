//! Who needs no second factor: exempt accounts and exempt source networks. The console decides
//! with these rules while it answers, and the agent with the same ones while it cannot reach the
//! console, so both must agree; they live here once, on `std::net` alone.

use crate::login::LoginReason;
use std::net::IpAddr;

/// The widest exempt network a login policy may hold: a `/1` exempts half of all addresses, a
/// `/0` all of them. The console refuses wider ones, and the agent drops them from a policy it
/// is handed, whoever answered in the console's name.
pub const MIN_EXEMPT_PREFIX: u8 = 2;

/// An IPv4 or IPv6 network, e.g. `10.0.0.0/8`; host bits are cleared, so `10.1.2.3/16` is
/// `10.1.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

fn family(ip: IpAddr) -> Family {
    if ip.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    }
}

/// The address as a number.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(family: Family, n: u128) -> IpAddr {
    match family {
        // A V4 network's numbers never exceed 32 bits.
        Family::V4 => IpAddr::V4(std::net::Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::V6(std::net::Ipv6Addr::from(n)),
    }
}

impl Network {
    /// A network in CIDR form (`10.0.0.0/8`, `2001:db8::/32`), as a policy holds it.
    pub fn parse(s: &str) -> Option<Network> {
        let (addr, prefix) = s.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        // Digits only: `u8::from_str` would take a `+`.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Network::new(addr, prefix.parse().ok()?)
    }

    /// What an admin may type: a network in CIDR form, or one address meaning that address alone.
    pub fn parse_typed(s: &str) -> Option<Network> {
        Network::parse(s).or_else(|| s.parse::<IpAddr>().ok().map(Network::host))
    }

    /// `addr`'s network of `prefix` bits; `None` past the family's width.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Network> {
        let f = family(addr);
        if prefix > f.bits() {
            return None;
        }
        Some(Network { addr: from_bits(f, bits(addr) & Network::mask(f, prefix)), prefix })
    }

    /// The network of one address.
    pub fn host(addr: IpAddr) -> Network {
        Network { addr, prefix: family(addr).bits() }
    }

    fn mask(f: Family, prefix: u8) -> u128 {
        let width = f.bits();
        let all = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
        all & !all.checked_shr(u32::from(prefix)).unwrap_or(0)
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    pub fn family(&self) -> Family {
        family(self.addr)
    }

    /// True for an address of this network (an address of the other family never is).
    pub fn contains(&self, ip: IpAddr) -> bool {
        family(ip) == self.family() && bits(ip) & Network::mask(self.family(), self.prefix) == bits(self.addr)
    }

    /// The first and last address, as numbers.
    fn range(&self) -> (u128, u128) {
        let start = bits(self.addr);
        let host = !Network::mask(self.family(), self.prefix) & Network::mask(self.family(), self.family().bits());
        (start, start | host)
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The families whose every address `nets` together exempt (each network may be fine alone:
/// `0.0.0.0/2`, `64.0.0.0/2` and `128.0.0.0/1` are all of IPv4), in the order IPv4, IPv6.
pub fn families_covered(nets: &[Network]) -> Vec<Family> {
    [Family::V4, Family::V6]
        .into_iter()
        .filter(|&f| {
            let mut ranges: Vec<(u128, u128)> = nets.iter().filter(|n| n.family() == f).map(Network::range).collect();
            ranges.sort_unstable();
            let last = Network::mask(f, f.bits());
            // The first address not yet covered; `None` once the last one is.
            let mut next = Some(0u128);
            for (start, end) in ranges {
                match next {
                    Some(n) if start <= n => next = if end == last { None } else { Some(n.max(end + 1)) },
                    _ => {}
                }
            }
            next.is_none()
        })
        .collect()
}

/// Why a login needs no second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exemption<'a> {
    /// The account is exempt.
    Account,
    /// The source address is in this exempt network.
    Network(&'a Network),
}

impl Exemption<'_> {
    /// The reason the agent reports for a login it let in this way.
    pub fn reason(&self) -> LoginReason {
        match self {
            Exemption::Account => LoginReason::ExemptAccount,
            Exemption::Network(_) => LoginReason::ExemptNetwork,
        }
    }
}

/// Whether a login to `account` from `source_ip` is exempt: account names match exactly, and a
/// source that is not an address (a host name, empty for a local login) is in no network.
pub fn exemption<'a>(
    accounts: &[String],
    networks: &'a [Network],
    account: &str,
    source_ip: &str,
) -> Option<Exemption<'a>> {
    if accounts.iter().any(|a| a == account) {
        return Some(Exemption::Account);
    }
    let ip: IpAddr = source_ip.parse().ok()?;
    networks.iter().find(|n| n.contains(ip)).map(Exemption::Network)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<Network> {
        s.iter().map(|n| Network::parse(n).unwrap()).collect()
    }

    #[test]
    fn networks_parse_as_cidr_and_print_back() {
        let n = Network::parse("10.1.2.3/16").unwrap();
        assert_eq!(n.to_string(), "10.1.0.0/16", "host bits are cleared");
        assert_eq!(Network::parse("2001:db8::1/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(Network::parse("0.0.0.0/0").unwrap().prefix_len(), 0);
        assert_eq!(Network::parse("::/0").unwrap().to_string(), "::/0");
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0", "garbage", "host.example/8"] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
        assert_eq!(Network::parse_typed("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert_eq!(Network::parse_typed("2001:db8::7").unwrap().to_string(), "2001:db8::7/128");
        assert_eq!(Network::parse_typed("10.0.0.0/33"), None);
        assert!(Network::parse("::/128").unwrap().contains("::".parse().unwrap()));
        assert!(Network::parse("192.0.2.7/32").unwrap().contains("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn exemptions_match_accounts_and_networks_only() {
        let accounts = vec!["backup".to_owned()];
        let networks = nets(&["10.1.0.0/16", "2001:db8::/32"]);
        let ex = |account: &str, ip: &str| {
            exemption(&accounts, &networks, account, ip).map(|e| match e {
                Exemption::Account => "account".to_owned(),
                Exemption::Network(n) => n.to_string(),
            })
        };
        assert_eq!(ex("backup", "203.0.113.9").as_deref(), Some("account"));
        assert_eq!(ex("backup", "").as_deref(), Some("account"));
        assert_eq!(ex("root", "10.1.200.3").as_deref(), Some("10.1.0.0/16"));
        assert_eq!(ex("root", "2001:db8::1").as_deref(), Some("2001:db8::/32"));
        assert_eq!(ex("root", "10.2.0.1"), None);
        assert_eq!(ex("root", "::ffff:10.1.0.1"), None, "an IPv6 address is never in an IPv4 network");
        assert_eq!(ex("root", "not-an-ip.example"), None, "a host name is never in a network");
        assert_eq!(ex("Backup", ""), None, "account names are exact");
        assert_eq!(exemption(&accounts, &networks, "backup", "").map(|e| e.reason()), Some(LoginReason::ExemptAccount));
        let by_net = exemption(&accounts, &networks, "root", "10.1.9.9").map(|e| e.reason());
        assert_eq!(by_net, Some(LoginReason::ExemptNetwork));
    }

    #[test]
    fn networks_that_together_cover_a_family_are_found() {
        assert_eq!(families_covered(&nets(&["0.0.0.0/0"])), [Family::V4]);
        assert_eq!(families_covered(&nets(&["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"])), [Family::V4]);
        assert_eq!(families_covered(&nets(&["::/2", "4000::/2", "8000::/2", "c000::/2"])), [Family::V6]);
        assert_eq!(
            families_covered(&nets(&["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"])),
            [Family::V4, Family::V6]
        );
        assert_eq!(families_covered(&nets(&["0.0.0.0/1", "10.0.0.0/8", "128.0.0.0/2", "192.0.0.0/2"])), [Family::V4]);
        let three_quarters = nets(&["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "::/2"]);
        assert!(families_covered(&three_quarters).is_empty(), "three quarters is the admin's call");
        assert!(families_covered(&nets(&["10.0.0.0/8", "fc00::/7", "192.0.2.7/32"])).is_empty());
        assert!(families_covered(&nets(&["128.0.0.0/1", "64.0.0.0/2"])).is_empty(), "0.0.0.0/2 is missing");
        assert!(families_covered(&[]).is_empty());
        assert!(Network::parse("0.0.0.0/1").unwrap().prefix_len() < MIN_EXEMPT_PREFIX);
    }
}
