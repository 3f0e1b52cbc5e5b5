//! Who this device is and what it looks like: the `DeviceInfo` and `DeviceNetworkInfo` rows.
//!
//! - [`DeviceIdentity`] is the stable device id (kept in the agent's state directory, created
//!   once) and the device name (the host name, lowercased);
//! - [`snapshot`] gathers the host facts: `/etc/os-release`, `uname(2)`, the logged-on users
//!   of `/run/utmp`, the adapters of `/sys/class/net` with their addresses from
//!   `getifaddrs(3)`, default gateways from `/proc/net/route` and `/proc/net/ipv6_route`, and
//!   DNS servers from `/etc/resolv.conf`;
//! - [`device_info_rows`] turns a snapshot into rows, MDE style; the agent emits them at start
//!   and again whenever [`HostSnapshot::changed`] says so.
//!
//! Every file format is parsed by a pure function over text, so malformed input is skipped
//! line by line and tested without touching the host. A source that cannot be read leaves its
//! facts empty: a snapshot never fails.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use vigil_schema::{Col, Dynamic, Row, Table, Timestamp};

use crate::sensors::logon;

/// The identity of this device in every row it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// 40 lowercase hex characters, created once and kept in `state_dir/device_id`.
    pub device_id: String,
    /// The host name, lowercased.
    pub device_name: String,
}

impl DeviceIdentity {
    /// Load the device id from `state_dir/device_id`, or create it (40 lowercase hex
    /// characters from `/dev/urandom`, written atomically: temp file, fsync, rename, mode
    /// 0600). A file that does not hold a valid id is replaced by a new one. `device_name` is
    /// the host name (`uname` nodename), lowercased.
    pub fn load_or_create(state_dir: &Path) -> io::Result<DeviceIdentity> {
        let path = state_dir.join("device_id");
        let device_id = match fs::read_to_string(&path) {
            Ok(text) if is_device_id(text.trim()) => text.trim().to_string(),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(context(e, "cannot read", &path))
            }
            _ => create_device_id(state_dir, &path)?,
        };
        let device_name = uname().map(|u| u.nodename).unwrap_or_default();
        let device_name = non_empty(&device_name)
            .unwrap_or("localhost")
            .to_lowercase();
        Ok(DeviceIdentity {
            device_id,
            device_name,
        })
    }
}

fn context(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

fn is_device_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new random id, written to `path` so that readers see the old content or the new, never
/// a part: a temporary file (mode 0600) is written, fsynced and renamed over `path`, and the
/// directory is fsynced.
fn create_device_id(dir: &Path, path: &Path) -> io::Result<String> {
    let mut bytes = [0u8; 20];
    let urandom = Path::new("/dev/urandom");
    fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| context(e, "cannot read", urandom))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| context(e, "cannot create", dir))?;
    let tmp = dir.join(format!(".device_id.tmp.{}", std::process::id()));
    // A leftover from a crash of an earlier process with the same pid.
    let _ = fs::remove_file(&tmp);
    let write = || -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{id}\n").as_bytes())?;
        f.sync_all()
    };
    let done = write().map_err(|e| context(e, "cannot write", &tmp));
    let done = done
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| context(e, "cannot rename to", path)));
    if done.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    done?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| context(e, "cannot sync", dir))?;
    Ok(id)
}

/// A snapshot of the host, gathered from `/etc/os-release`, `uname(2)`, `/proc`,
/// `/sys/class/net` and `getifaddrs(3)`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot {
    /// os-release `ID`, e.g. `debian` (`linux` when unset, as os-release specifies).
    pub os_distribution: String,
    /// os-release `VERSION_ID`, e.g. `12`; empty when unset (rolling releases).
    pub os_version: String,
    /// os-release `PRETTY_NAME`, e.g. `Debian GNU/Linux 12 (bookworm)`.
    pub os_pretty_name: String,
    /// Kernel release (`uname -r`).
    pub kernel_release: String,
    /// MDE architecture: `x64`, `arm64`, or the uname machine for others.
    pub architecture: String,
    /// The uname machine, e.g. `x86_64`.
    pub machine: String,
    /// The host name as uname reports it.
    pub hostname: String,
    /// Sessions in utmp (`USER_PROCESS` records).
    pub logged_on_users: Vec<LoggedOnUser>,
    /// Network adapters, by name.
    pub adapters: Vec<Adapter>,
    /// `nameserver` addresses of `/etc/resolv.conf`.
    pub dns_servers: Vec<String>,
}

impl HostSnapshot {
    /// Whether anything differs from `other`, so the agent re-emits the device rows.
    pub fn changed(&self, other: &HostSnapshot) -> bool {
        self != other
    }
}

/// One utmp session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOnUser {
    pub user: String,
    /// The terminal line, e.g. `pts/0`.
    pub tty: String,
    /// The remote host, or empty for a local session.
    pub host: String,
}

/// A network adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    pub name: String,
    /// `00-11-22-AA-BB-CC`, as MDE writes it; `None` when the adapter has none (loopback,
    /// tunnels).
    pub mac: Option<String>,
    /// `Ethernet`, `Loopback`, `Wireless`, `Tunnel` or `Other`.
    pub kind: String,
    /// `Up` or `Down`.
    pub status: String,
    /// Addresses with their prefix lengths.
    pub addresses: Vec<(IpAddr, u8)>,
    /// Default gateways routed through this adapter.
    pub gateways: Vec<IpAddr>,
}

/// Gather a [`HostSnapshot`]. Sources that cannot be read leave their facts empty.
pub fn snapshot() -> HostSnapshot {
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let mut os = parse_os_release(&read("/etc/os-release"));
    if os.is_empty() {
        os = parse_os_release(&read("/usr/lib/os-release"));
    }
    let mut os_value = |k: &str, default: &str| os.remove(k).unwrap_or_else(|| default.into());
    let un = uname().unwrap_or_default();
    let utmp = fs::read("/run/utmp").unwrap_or_default();
    let logged_on_users = logon::parse_utmp(&utmp)
        .0
        .into_iter()
        .filter(|r| r.ut_type == logon::USER_PROCESS && !r.user.is_empty())
        .map(|r| LoggedOnUser {
            user: r.user,
            tty: r.line,
            host: r.host,
        })
        .collect();
    let mut gateways = parse_route_v4(&read("/proc/net/route"));
    gateways.extend(parse_ipv6_route(&read("/proc/net/ipv6_route")));
    HostSnapshot {
        os_distribution: os_value("ID", "linux"),
        os_version: os_value("VERSION_ID", ""),
        os_pretty_name: os_value("PRETTY_NAME", "Linux"),
        kernel_release: un.release,
        architecture: arch_name(&un.machine).to_string(),
        machine: un.machine,
        hostname: un.nodename,
        logged_on_users,
        adapters: adapters(&gateways),
        dns_servers: parse_resolv_conf(&read("/etc/resolv.conf")),
    }
}

/// A JSON object from `(key, value)` pairs.
fn object<const N: usize>(pairs: [(&str, Dynamic); N]) -> Dynamic {
    let mut o = Dynamic::object();
    for (k, v) in pairs {
        o.insert(k, v);
    }
    o
}

/// Rows for `DeviceInfo` (one) and `DeviceNetworkInfo` (one per adapter), stamped `at`.
pub fn device_info_rows(
    id: &DeviceIdentity,
    snap: &HostSnapshot,
    at: Timestamp,
    client_version: &str,
) -> Vec<Row> {
    let base = |table| {
        let mut row = Row::new(table);
        row.put(Col::Timestamp, at);
        row.put(Col::DeviceId, id.device_id.as_str());
        row.put(Col::DeviceName, id.device_name.as_str());
        row
    };
    let mut info = base(Table::DeviceInfo);
    info.put(Col::ClientVersion, client_version);
    info.put(Col::OSPlatform, "Linux");
    info.put(Col::OSArchitecture, non_empty(&snap.architecture));
    info.put(Col::OSDistribution, non_empty(&snap.os_distribution));
    info.put(Col::OSVersion, non_empty(&snap.os_version));
    info.put(Col::OSVersionInfo, non_empty(&snap.os_pretty_name));
    let mut users: Vec<Dynamic> = Vec::new();
    for u in &snap.logged_on_users {
        let user = object([
            ("UserName", u.user.as_str().into()),
            ("DomainName", "".into()),
        ]);
        if !users.contains(&user) {
            users.push(user);
        }
    }
    info.put(Col::LoggedOnUsers, Dynamic::Array(users));
    info.put(Col::OnboardingStatus, "Onboarded");
    info.put(Col::DeviceCategory, "Endpoint");
    info.put(Col::DeviceType, "Server");
    info.put(Col::SensorHealthState, "Active");
    info.put_extra("kernel", snap.kernel_release.as_str());
    info.put_extra("machine", snap.machine.as_str());
    let mut rows = vec![info];
    for a in &snap.adapters {
        let mut row = base(Table::DeviceNetworkInfo);
        row.put(Col::NetworkAdapterName, a.name.as_str());
        row.put(Col::MacAddress, a.mac.clone());
        row.put(Col::NetworkAdapterType, a.kind.as_str());
        row.put(Col::NetworkAdapterStatus, a.status.as_str());
        let addrs = a.addresses.iter().map(|(ip, prefix)| {
            object([
                ("IPAddress", ip.to_string().into()),
                ("SubnetPrefix", i64::from(*prefix).into()),
                ("AddressType", ip_type(ip).into()),
            ])
        });
        row.put(Col::IPAddresses, Dynamic::Array(addrs.collect()));
        let gateways: Vec<String> = a.gateways.iter().map(IpAddr::to_string).collect();
        row.put(Col::DefaultGateways, Dynamic::from(gateways));
        // resolv.conf is host-wide; loopback does not use it.
        let dns = if a.kind == "Loopback" {
            &[][..]
        } else {
            &snap.dns_servers[..]
        };
        row.put(Col::DnsAddresses, Dynamic::from(dns.to_vec()));
        rows.push(row);
    }
    rows
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// MDE's address type of `ip`: `Loopback`, `LinkLocal`, `Private` (RFC 1918, shared
/// 100.64/10, unique-local fc00::/7, unspecified) or `Public`. IPv4-mapped IPv6 addresses are
/// classified as their IPv4 address.
pub fn ip_type(ip: &IpAddr) -> &'static str {
    let (loopback, link_local, private) = match ip.to_canonical() {
        IpAddr::V4(a) => {
            let shared = a.octets()[0] == 100 && a.octets()[1] & 0xc0 == 64;
            let private = a.is_private() || a.is_unspecified() || shared;
            (a.is_loopback(), a.is_link_local(), private)
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            let private = first & 0xfe00 == 0xfc00 || a.is_unspecified();
            (a.is_loopback(), first & 0xffc0 == 0xfe80, private)
        }
    };
    match () {
        _ if loopback => "Loopback",
        _ if link_local => "LinkLocal",
        _ if private => "Private",
        _ => "Public",
    }
}

/// MDE's name for a uname machine: `x64`, `arm64`, or the machine itself.
pub fn arch_name(machine: &str) -> &str {
    match machine {
        "x86_64" | "amd64" => "x64",
        "aarch64" | "arm64" => "arm64",
        other => other,
    }
}

/// `KEY=value` lines of os-release(5), with values unquoted. Comments, blank lines and lines
/// that are not assignments are skipped.
fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if let (true, Some(value)) = (key_ok, unquote(raw)) {
            out.insert(key.to_string(), value);
        }
    }
    out
}

/// A shell-style value: bare, `'single'` or `"double"` with backslash escapes. `None` when a
/// quote is not closed.
fn unquote(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let Some(quote) = raw.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return Some(raw.to_string());
    };
    let mut out = String::new();
    let mut chars = raw[1..].chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return chars.as_str().trim().is_empty().then_some(out);
        }
        if c == '\\' && quote == '"' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    None
}

/// Default IPv4 routes of `/proc/net/route`: `(interface, gateway)`. The kernel prints the
/// network-order address as a host-order hex number.
fn parse_route_v4(text: &str) -> Vec<(String, IpAddr)> {
    const RTF_GATEWAY: u32 = 0x2;
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let default_route = |line: &str| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            return None;
        }
        let (dest, gw, flags, mask) = (hex(f[1])?, hex(f[2])?, hex(f[3])?, hex(f[7])?);
        let is_default = dest == 0 && mask == 0 && gw != 0 && flags & RTF_GATEWAY != 0;
        is_default.then(|| (f[0].to_string(), IpAddr::from(gw.to_ne_bytes())))
    };
    // The header line ("Iface Destination ...") fails the hex parse.
    text.lines().filter_map(default_route).collect()
}

/// Default IPv6 routes of `/proc/net/ipv6_route`: `(interface, gateway)`. Fields: dest,
/// dest prefix, source, source prefix, next hop, metric, refcount, use, flags, interface.
fn parse_ipv6_route(text: &str) -> Vec<(String, IpAddr)> {
    let hex = |s: &str| (s.len() == 32).then(|| u128::from_str_radix(s, 16).ok())?;
    let default_route = |line: &str| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            return None;
        }
        let (dest, gw, iface) = (hex(f[0])?, hex(f[4])?, f[9]);
        let is_default = dest == 0 && f[1] == "00" && gw != 0;
        is_default.then(|| (iface.to_string(), IpAddr::V6(Ipv6Addr::from(gw))))
    };
    text.lines().filter_map(default_route).collect()
}

/// `nameserver` addresses of resolv.conf(5). Comments and lines whose address does not parse
/// are skipped; an IPv6 zone (`fe80::1%eth0`) is kept.
fn parse_resolv_conf(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            if f.next()? != "nameserver" {
                return None;
            }
            let addr = f.next()?;
            let ip = addr.split('%').next()?;
            ip.parse::<IpAddr>().ok().map(|_| addr.to_string())
        })
        .collect()
}

/// `aa:bb:cc:dd:ee:ff` (as in `/sys/class/net/X/address`) as `AA-BB-CC-DD-EE-FF`. `None` for
/// an all-zero or malformed address.
fn format_mac(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let valid = parts.len() >= 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid || parts.iter().all(|p| *p == "00") {
        return None;
    }
    Some(parts.join("-").to_ascii_uppercase())
}

/// The adapter kind from the ARPHRD type of `/sys/class/net/X/type` and whether the adapter
/// has a `wireless` (or `phy80211`) entry.
fn adapter_kind(arphrd: Option<u32>, wireless: bool) -> &'static str {
    match arphrd {
        _ if wireless => "Wireless",
        Some(1) => "Ethernet",
        Some(772) => "Loopback",
        // IPIP, IPv6-in-IPv6, SIT, GRE, IP6GRE, and NONE (tun, WireGuard).
        Some(768 | 769 | 776 | 778 | 823 | 65534) => "Tunnel",
        Some(801..=803) => "Wireless",
        _ => "Other",
    }
}

/// `Up` or `Down` from `operstate`, falling back to `IFF_UP` of `flags` (hex, as in
/// `/sys/class/net/X/flags`) when the driver reports `unknown` (loopback, many virtual
/// adapters) or nothing.
fn adapter_status(operstate: &str, flags: &str) -> &'static str {
    let flags = flags.trim();
    let flags = u32::from_str_radix(flags.strip_prefix("0x").unwrap_or(flags), 16);
    let up = match operstate.trim() {
        "unknown" | "" => flags.is_ok_and(|f| f & libc::IFF_UP as u32 != 0),
        state => state == "up",
    };
    if up {
        "Up"
    } else {
        "Down"
    }
}

/// Number of leading one bits of a netmask.
fn prefix_len(mask: &IpAddr) -> u8 {
    match mask {
        IpAddr::V4(m) => u32::from(*m).leading_ones() as u8,
        IpAddr::V6(m) => u128::from(*m).leading_ones() as u8,
    }
}

/// The adapters of `/sys/class/net` and of `getifaddrs`, by name, with `gateways` (from the
/// route parsers) attached to their interfaces.
fn adapters(gateways: &[(String, IpAddr)]) -> Vec<Adapter> {
    let mut addrs = interface_addresses();
    if let Ok(dir) = fs::read_dir("/sys/class/net") {
        for e in dir.filter_map(Result::ok) {
            addrs
                .entry(e.file_name().to_string_lossy().into_owned())
                .or_default();
        }
    }
    let mut out = Vec::new();
    for (name, addresses) in addrs {
        let sys = Path::new("/sys/class/net").join(&name);
        let read = |f: &str| fs::read_to_string(sys.join(f)).unwrap_or_default();
        let wireless = sys.join("wireless").exists() || sys.join("phy80211").exists();
        let mut gws: Vec<IpAddr> = Vec::new();
        for (_, gw) in gateways.iter().filter(|(i, _)| *i == name) {
            if !gws.contains(gw) {
                gws.push(*gw);
            }
        }
        out.push(Adapter {
            mac: format_mac(&read("address")),
            kind: adapter_kind(read("type").trim().parse().ok(), wireless).to_string(),
            status: adapter_status(&read("operstate"), &read("flags")).to_string(),
            addresses,
            gateways: gws,
            name,
        });
    }
    out
}

/// Frees the `getifaddrs` list when dropped.
struct IfAddrsList(*mut libc::ifaddrs);

impl Drop for IfAddrsList {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful getifaddrs call and is freed once, here;
        // no reference into the list outlives this guard.
        unsafe { libc::freeifaddrs(self.0) }
    }
}

/// IP addresses and prefix lengths per interface name, from `getifaddrs(3)`.
fn interface_addresses() -> BTreeMap<String, Vec<(IpAddr, u8)>> {
    let mut out: BTreeMap<String, Vec<(IpAddr, u8)>> = BTreeMap::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; on success getifaddrs stores a list it allocated.
    if unsafe { libc::getifaddrs(&mut head) } != 0 || head.is_null() {
        return out;
    }
    let list = IfAddrsList(head);
    let mut cur = list.0;
    while !cur.is_null() {
        // SAFETY: `cur` is a non-null node of the list, which stays allocated until `list`
        // is dropped at the end of this function.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a non-null NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        let entry = out.entry(name.into_owned()).or_default();
        if let Some(ip) = sockaddr_ip(ifa.ifa_addr) {
            entry.push((
                ip,
                sockaddr_ip(ifa.ifa_netmask).map_or(0, |m| prefix_len(&m)),
            ));
        }
    }
    out
}

/// The IP address of an `AF_INET` or `AF_INET6` sockaddr; `None` for null or other families.
fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: `sa` is non-null and points to a socket address of the getifaddrs list, which
    // starts with sa_family; read_unaligned makes no alignment assumption.
    let family = unsafe { std::ptr::addr_of!((*sa).sa_family).read_unaligned() };
    match i32::from(family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage is a sockaddr_in.
            let sin = unsafe { std::ptr::read_unaligned(sa.cast::<libc::sockaddr_in>()) };
            Some(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage is a sockaddr_in6.
            let sin6 = unsafe { std::ptr::read_unaligned(sa.cast::<libc::sockaddr_in6>()) };
            Some(IpAddr::from(sin6.sin6_addr.s6_addr))
        }
        _ => None,
    }
}

#[derive(Debug, Default)]
struct Uname {
    nodename: String,
    release: String,
    machine: String,
}

fn uname() -> Option<Uname> {
    // SAFETY: utsname is plain old data; all zeroes is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname for uname to fill.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some(Uname {
        nodename: field(&u.nodename),
        release: field(&u.release),
        machine: field(&u.machine),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn os_release_values_unquoted_and_bad_lines_skipped() {
        let text = "# c\n\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME='Debian'\nID=debian\n\
                    junk\nbad key=x\n=empty\nOPEN=\"unterminated\nESC=\"a \\\"q\\\" \\\\\"\nT=\"x\" y\n";
        let m = parse_os_release(text);
        let want = [("ESC", "a \"q\" \\"), ("ID", "debian"), ("NAME", "Debian")];
        assert_eq!(m["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert!(want.iter().all(|(k, v)| m[*k] == *v));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn default_routes() {
        let hex = |a: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(a));
        let (gw, net, mask) = (
            hex([192, 168, 1, 1]),
            hex([192, 168, 1, 0]),
            hex([255, 255, 255, 0]),
        );
        let v4 = format!(
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
             eth0\t00000000\t{gw}\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
             eth0\t{net}\t00000000\t0001\t0\t0\t100\t{mask}\t0\t0\t0\nshort 0\nx 0 0\n\
             eth1\t00000000\tZZZZZZZZ\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        );
        assert_eq!(
            parse_route_v4(&v4),
            [("eth0".to_string(), ip("192.168.1.1"))]
        );
        let z = "0".repeat(32);
        let v6 = format!(
            "{z} 00 {z} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003 eth0\n\
             fe80{} 40 {z} 00 {z} 00000100 00000001 00000000 00000001 eth0\n\
             {z} 00 {z} 00 {z} ffffffff 00000001 00000000 00200200 lo\ngarbage\n{z} 00\n0 00 0 00 1 0 0 0 0 x\n",
            &z[4..]
        );
        assert_eq!(parse_ipv6_route(&v6), [("eth0".to_string(), ip("fe80::1"))]);
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# x\nsearch example.com\nnameserver 10.0.0.2\n nameserver  2001:db8::53 \n\
                    nameserver fe80::1%eth0\nnameserver bad\nnameserver\n;nameserver 9.9.9.9\n";
        assert_eq!(
            parse_resolv_conf(text),
            ["10.0.0.2", "2001:db8::53", "fe80::1%eth0"]
        );
    }

    #[test]
    fn adapter_facts() {
        assert_eq!(
            format_mac("00:11:22:aa:bb:cc\n").as_deref(),
            Some("00-11-22-AA-BB-CC")
        );
        assert!(["00:00:00:00:00:00", "zz:11:22:aa:bb:cc", "", "00:11"]
            .iter()
            .all(|m| format_mac(m).is_none()));
        let kinds = [
            (Some(1), false, "Ethernet"),
            (Some(1), true, "Wireless"),
            (Some(772), false, "Loopback"),
            (Some(65534), false, "Tunnel"),
            (Some(32), false, "Other"),
            (None, false, "Other"),
        ];
        for (t, w, k) in kinds {
            assert_eq!(adapter_kind(t, w), k, "{t:?} {w}");
        }
        let statuses = [
            ("up\n", "", "Up"),
            ("down", "0x1003", "Down"),
            ("unknown\n", "0x49\n", "Up"),
            ("", "0x0", "Down"),
            ("", "junk", "Down"),
        ];
        for (o, f, s) in statuses {
            assert_eq!(adapter_status(o, f), s, "{o:?} {f:?}");
        }
        assert_eq!(
            [
                prefix_len(&ip("255.255.255.0")),
                prefix_len(&ip("ffff:ffff:ffff:ffff::")),
                prefix_len(&ip("0.0.0.0"))
            ],
            [24, 64, 0]
        );
        assert_eq!(
            [
                arch_name("x86_64"),
                arch_name("aarch64"),
                arch_name("riscv64")
            ],
            ["x64", "arm64", "riscv64"]
        );
    }

    #[test]
    fn parsers_never_panic_on_cut_or_odd_input() {
        let text = "ID=\"x\\\nnameserver 1.1.1.1%\neth0 00000000 0 3 0 0 0 00000000\n\
                    00000000000000000000000000000000 0 z\n\u{fffd}=\u{e9}\n'\n\"";
        for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
            let t = &text[..end];
            parse_os_release(t);
            parse_route_v4(t);
            parse_ipv6_route(t);
            parse_resolv_conf(t);
            format_mac(t);
            adapter_status(t, t);
        }
    }

    #[test]
    fn ip_types() {
        let cases = "127.0.0.1 Loopback ::1 Loopback 169.254.3.4 LinkLocal fe80::1 LinkLocal 10.1.2.3 Private \
                     172.16.0.1 Private 172.32.0.1 Public 192.168.0.1 Private 100.64.0.1 Private fd00::1 Private \
                     ::ffff:10.0.0.1 Private 8.8.8.8 Public 2001:4860::8888 Public";
        let f: Vec<&str> = cases.split_whitespace().collect();
        for c in f.chunks(2) {
            assert_eq!(ip_type(&ip(c[0])), c[1], "{}", c[0]);
        }
    }

    fn adapter(
        name: &str,
        kind: &str,
        mac: Option<&str>,
        addrs: &[(&str, u8)],
        gws: &[&str],
    ) -> Adapter {
        let (name, kind, mac, status) =
            (name.into(), kind.into(), mac.map(Into::into), "Up".into());
        let addresses = addrs.iter().map(|(a, p)| (ip(a), *p)).collect();
        Adapter {
            name,
            mac,
            kind,
            status,
            addresses,
            gateways: gws.iter().map(|g| ip(g)).collect(),
        }
    }

    #[test]
    fn rows_mde_style_and_change() {
        let user = |u: &str, tty: &str| LoggedOnUser {
            user: u.into(),
            tty: tty.into(),
            host: String::new(),
        };
        let snap = HostSnapshot {
            os_distribution: "debian".into(),
            os_version: "12".into(),
            os_pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel_release: "6.1.0-18-amd64".into(),
            architecture: "x64".into(),
            machine: "x86_64".into(),
            hostname: "Web-1".into(),
            logged_on_users: vec![user("alice", "pts/0"), user("alice", "pts/1")],
            adapters: vec![
                adapter(
                    "eth0",
                    "Ethernet",
                    Some("00-11-22-AA-BB-CC"),
                    &[("10.0.0.5", 24), ("fe80::1", 64)],
                    &["10.0.0.1"],
                ),
                adapter("lo", "Loopback", None, &[("127.0.0.1", 8)], &[]),
            ],
            dns_servers: vec!["10.0.0.2".into()],
        };
        let id = DeviceIdentity {
            device_id: "ab".repeat(20),
            device_name: "web-1".into(),
        };
        let rows = device_info_rows(&id, &snap, Timestamp(7), "0.1.0");
        let json = |r: &Row, c: Col| match r.get(c) {
            vigil_schema::Value::Dynamic(d) => d.to_json(),
            other => panic!("{other:?}"),
        };
        let (info, eth, lo) = (&rows[0], &rows[1], &rows[2]);
        assert_eq!(
            (rows.len(), info.table(), info.timestamp()),
            (3, Table::DeviceInfo, Timestamp(7))
        );
        let strs = [
            (Col::DeviceName, "web-1"),
            (Col::OSPlatform, "Linux"),
            (Col::OSArchitecture, "x64"),
            (Col::OSDistribution, "debian"),
            (Col::OSVersion, "12"),
            (Col::DeviceType, "Server"),
        ];
        for (c, v) in strs {
            assert_eq!(info.get_str(c), Some(v), "{c:?}");
        }
        assert!(info.get(Col::OSBuild).is_null());
        assert_eq!(
            json(info, Col::LoggedOnUsers),
            r#"[{"DomainName":"","UserName":"alice"}]"#
        );
        assert_eq!(
            json(info, Col::AdditionalFields),
            r#"{"kernel":"6.1.0-18-amd64","machine":"x86_64"}"#
        );
        assert_eq!(
            (eth.table(), eth.get_str(Col::DeviceId)),
            (Table::DeviceNetworkInfo, Some(&*id.device_id))
        );
        assert_eq!(eth.get_str(Col::MacAddress), Some("00-11-22-AA-BB-CC"));
        assert_eq!(
            json(eth, Col::IPAddresses),
            r#"[{"AddressType":"Private","IPAddress":"10.0.0.5","SubnetPrefix":24},{"AddressType":"LinkLocal","IPAddress":"fe80::1","SubnetPrefix":64}]"#
        );
        assert_eq!(
            (
                json(eth, Col::DefaultGateways),
                json(eth, Col::DnsAddresses)
            ),
            (r#"["10.0.0.1"]"#.into(), r#"["10.0.0.2"]"#.into())
        );
        assert!(lo.get(Col::MacAddress).is_null());
        assert_eq!(json(lo, Col::DnsAddresses), "[]");
        let mut other = snap.clone();
        assert!(!snap.changed(&other));
        other.adapters[0].status = "Down".into();
        assert!(snap.changed(&other));
    }

    #[test]
    fn identity_is_created_once_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("vigil-device-id-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let state = dir.join("state");
        let a = DeviceIdentity::load_or_create(&state).unwrap();
        assert!(is_device_id(&a.device_id) && a.device_name == a.device_name.to_lowercase());
        assert_eq!(a, DeviceIdentity::load_or_create(&state).unwrap());
        let mode = fs::metadata(state.join("device_id"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            (mode & 0o777, fs::read_dir(&state).unwrap().count()),
            (0o600, 1)
        );
        fs::write(state.join("device_id"), "not an id").unwrap();
        let c = DeviceIdentity::load_or_create(&state).unwrap();
        assert!(is_device_id(&c.device_id) && c.device_id != a.device_id);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshot_of_this_host() {
        let s = snapshot();
        assert!(!s.kernel_release.is_empty() && !s.os_distribution.is_empty());
    }
}
