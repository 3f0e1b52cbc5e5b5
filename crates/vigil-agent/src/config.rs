//! The agent's configuration: TOML, by default `/etc/vigil/agent.toml`.
//!
//! Every key is optional and documented here; an unknown key is an error that names it.
//!
//! ```toml
//! [agent]
//! state_dir = "/var/lib/vigil"      # device id, status, caches
//!
//! [sensors]
//! mode = "auto"                      # auto: eBPF, falling back when it cannot load; fallback: /proc + fanotify only
//! process = true                     # exec, fork, exit
//! file = true                        # create, modify, rename, delete, chmod +x
//! network = true                     # TCP connect/accept/listen, UDP peers
//! dns = true                         # DNS answers (names for RemoteUrl)
//! logon = true                       # wtmp/btmp logons and failures
//! security = true                    # ptrace, setuid/setgid, bpf loads, memfd, modules, personality, syslog, mknod, sysinfo, service stops
//! emit_forks = false                 # also write a row per fork (ProcessForked)
//! exclude_paths = ["/var/lib/vigil/"] # file events under these prefixes are dropped in the kernel (max 8, < 64 bytes)
//! sensitive_files = ["/etc/shadow", "/home/*/.ssh/id_*"] # opening these for reading is a SensitiveFileRead row
//!                                    # (`*` matches within one path component; default: shadow and gshadow
//!                                    # with backups, opasswd, SSH host and user private keys, krb5.keytab;
//!                                    # at most 256 files; re-checked every 5 s, so a replaced file is
//!                                    # followed within 5 s)
//! ring_buffer_mb = 16                # kernel → agent ring buffer (power of two)
//! wtmp = "/var/log/wtmp"
//! btmp = "/var/log/btmp"
//!
//! [hashing]
//! max_file_mb = 64                   # larger files are not hashed
//! cache_entries = 16384              # file versions remembered
//! settle_ms = 300                    # file rows wait this long before hashing (writes after a create count)
//!
//! [uplink]                           # the server connection (after `vigil-agent enroll`)
//! spool_max_mb = 256                 # disk spool bound; beyond it the oldest events are dropped and counted
//! batch_max_events = 2000            # events per batch
//! batch_max_delay_ms = 200           # how long an event waits for its batch to fill
//! in_flight = 4                      # batches sent before the first is acknowledged
//! heartbeat_secs = 30                # health report interval (the server may ask for another)
//!
//! [protection]                       # enforcement of indicators (see src/protect/mod.rs)
//! enabled = true                     # probe the enforcement ladder at start and enforce what it allows
//! network = true                     # IP, CIDR and domain blocks (cgroup BPF on the cgroup v2 root)
//! exec = true                        # exec blocks by file hash (fanotify FAN_OPEN_EXEC_PERM)
//! indicators_file = "/etc/vigil/indicators.json" # indicators to enforce without a server: a JSON
//!                                    # array or JSON lines of indicators (vigil-intel's model),
//!                                    # re-read within a second when it changes; unset: none
//! dns_ttl_floor_secs = 60            # a blocked domain's addresses stay blocked at least this long
//! dns_ttl_cap_secs = 3600            # ... and at most this long, whatever the answer's TTL
//! report_interval_ms = 1000          # one row per (process, direction, address) per interval; the
//!                                    # blocks folded into it are counted in the row
//! exec_timeout_ms = 3000             # an exec whose file is not hashed by then is allowed (fail
//!                                    # open) and reported as AntivirusScanFailed
//! exec_max_file_mb = 256             # larger executables are allowed unhashed (reported once)
//! exec_cache_entries = 65536         # file versions whose hashes are remembered
//! max_network_entries = 1048576      # kernel map bounds: IP/CIDR entries per family,
//! max_domain_entries = 1048576       # ... and blocked domains
//! never_block = ["127.0.0.1", "::1"] # addresses or networks no indicator blocks
//!
//! [antivirus]                        # next-generation protection (every key: src/av/mod.rs)
//! enabled = false                    # on-access scanning (fanotify)
//! quick_scan_every = "off"           # scheduled quick scan: "off" or a number and s/m/h/d/w ("12h");
//! full_scan_every = "off"            # ... and full scan ("7d"); both run with or without on-access,
//!                                    # last results kept in <state_dir>/antivirus/scans.json
//! allow_sha256 = []                  # SHA-256s never scanned nor detected
//! # [antivirus.block_sha256]         # "<sha256>" = "threat name": detected by hash alone
//!
//! [asr]                              # attack surface reduction (every rule and key: src/asr/mod.rs)
//! credential_read = "off"            # each rule: off | audit | warn | block
//! persistence_write = "off"          # (rules: world_writable_exec, server_shell, document_interpreter,
//!                                    # ptrace, preload_write, module_load, credential_read,
//!                                    # persistence_write, downloaded_exec, ransomware)
//! exclude_processes = []             # process names no rule matches
//! ransomware_threshold = 100         # more than this many changes by one process ...
//! ransomware_window_secs = 10        # ... within this many seconds
//!
//! [limits]                           # events per second per source; beyond: dropped and counted
//! process = 50000
//! file = 100000
//! network = 50000
//! dns = 20000
//! logon = 1000
//! security = 20000
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sensors::event::Source;

pub const DEFAULT_PATH: &str = "/etc/vigil/agent.toml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    pub agent: AgentSection,
    pub sensors: SensorsConfig,
    pub hashing: HashingConfig,
    pub uplink: UplinkConfig,
    pub limits: LimitsConfig,
    pub protection: ProtectionConfig,
    /// `[antivirus]`: on-access scanning (see src/av/mod.rs for every key).
    pub antivirus: crate::av::AntivirusConfig,
    /// `[tamper]`: tamper protection (see src/tamper/mod.rs).
    pub tamper: crate::tamper::TamperConfig,
    /// `[asr]`: attack surface reduction rules (see src/asr/mod.rs).
    pub asr: crate::asr::AsrConfig,
}

/// `[protection]`: enforcement of threat-intelligence indicators on this device.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectionConfig {
    pub enabled: bool,
    pub network: bool,
    pub exec: bool,
    /// Indicators to enforce without a server (JSON array or JSON lines), re-read on change.
    pub indicators_file: Option<PathBuf>,
    pub dns_ttl_floor_secs: u32,
    pub dns_ttl_cap_secs: u32,
    pub report_interval_ms: u32,
    pub exec_timeout_ms: u64,
    pub exec_max_file_mb: u64,
    pub exec_cache_entries: usize,
    pub max_network_entries: u32,
    pub max_domain_entries: u32,
    /// Addresses or networks that no indicator blocks.
    pub never_block: Vec<String>,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        ProtectionConfig {
            enabled: true,
            network: true,
            exec: true,
            indicators_file: None,
            dns_ttl_floor_secs: 60,
            dns_ttl_cap_secs: 3600,
            report_interval_ms: 1000,
            exec_timeout_ms: 3000,
            exec_max_file_mb: 256,
            exec_cache_entries: 65_536,
            max_network_entries: 1 << 20,
            max_domain_entries: 1 << 20,
            never_block: vec!["127.0.0.1".into(), "::1".into()],
        }
    }
}

impl ProtectionConfig {
    fn validate(&self) -> Result<(), String> {
        if self.dns_ttl_floor_secs > self.dns_ttl_cap_secs {
            return Err(format!(
                "protection.dns_ttl_floor_secs ({}) must not exceed protection.dns_ttl_cap_secs ({})",
                self.dns_ttl_floor_secs, self.dns_ttl_cap_secs
            ));
        }
        if self.exec_timeout_ms == 0 || self.exec_cache_entries == 0 {
            return Err(
                "protection.exec_timeout_ms and protection.exec_cache_entries must be at least 1"
                    .into(),
            );
        }
        if self.max_network_entries == 0 || self.max_domain_entries == 0 {
            return Err(
                "protection.max_network_entries and protection.max_domain_entries must be at least 1"
                    .into(),
            );
        }
        if let Some(p) = self.indicators_file.as_ref().filter(|p| !p.is_absolute()) {
            return Err(format!(
                "protection.indicators_file {} must be an absolute path",
                p.display()
            ));
        }
        if let Some(bad) = self
            .never_block
            .iter()
            .find(|n| vigil_intel::normalize::cidr(n).is_err())
        {
            return Err(format!(
                "protection.never_block entry {bad:?} is not an address or a network (address/length)"
            ));
        }
        Ok(())
    }
}

/// `[uplink]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UplinkConfig {
    pub spool_max_mb: u64,
    pub batch_max_events: usize,
    pub batch_max_delay_ms: u64,
    pub in_flight: usize,
    pub heartbeat_secs: u64,
}

impl Default for UplinkConfig {
    fn default() -> Self {
        UplinkConfig {
            spool_max_mb: 256,
            batch_max_events: 2_000,
            batch_max_delay_ms: 200,
            in_flight: 4,
            heartbeat_secs: 30,
        }
    }
}

/// `[agent]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// Where the device id, the status file and caches live.
    pub state_dir: PathBuf,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            state_dir: PathBuf::from("/var/lib/vigil"),
        }
    }
}

/// `[sensors]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsConfig {
    pub mode: SensorMode,
    pub process: bool,
    pub file: bool,
    pub network: bool,
    pub dns: bool,
    pub logon: bool,
    pub security: bool,
    pub emit_forks: bool,
    pub exclude_paths: Vec<String>,
    pub sensitive_files: Vec<String>,
    pub ring_buffer_mb: u32,
    pub wtmp: PathBuf,
    pub btmp: PathBuf,
}

impl Default for SensorsConfig {
    fn default() -> Self {
        SensorsConfig {
            mode: SensorMode::Auto,
            process: true,
            file: true,
            network: true,
            dns: true,
            logon: true,
            security: true,
            emit_forks: false,
            exclude_paths: Vec::new(),
            sensitive_files: [
                "/etc/shadow",
                "/etc/shadow-",
                "/etc/gshadow",
                "/etc/gshadow-",
                "/etc/security/opasswd",
                "/etc/ssh/ssh_host_*_key",
                "/root/.ssh/id_*",
                "/home/*/.ssh/id_*",
                "/etc/krb5.keytab",
            ]
            .map(String::from)
            .to_vec(),
            ring_buffer_mb: 16,
            wtmp: PathBuf::from("/var/log/wtmp"),
            btmp: PathBuf::from("/var/log/btmp"),
        }
    }
}

/// How the agent collects.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SensorMode {
    /// eBPF sensors; the `/proc` and fanotify fallbacks when they cannot load.
    Auto,
    /// The fallbacks only (degraded), e.g. on a kernel where the eBPF sensors misbehave.
    Fallback,
}

/// `[hashing]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HashingConfig {
    pub max_file_mb: u64,
    pub cache_entries: usize,
    pub settle_ms: u64,
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig {
            max_file_mb: 64,
            cache_entries: 16_384,
            settle_ms: 300,
        }
    }
}

/// `[limits]`: events per second per source.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub process: u32,
    pub file: u32,
    pub network: u32,
    pub dns: u32,
    pub logon: u32,
    pub security: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            process: 50_000,
            file: 100_000,
            network: 50_000,
            dns: 20_000,
            logon: 1_000,
            security: 20_000,
        }
    }
}

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl AgentConfig {
    /// Parse TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<AgentConfig, ConfigError> {
        let cfg: AgentConfig = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Load `path`; a missing file at the default path means the defaults.
    pub fn load(path: Option<&Path>) -> Result<AgentConfig, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => AgentConfig::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(AgentConfig::default())
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    fn validate(&self) -> Result<(), String> {
        let rb = self.sensors.ring_buffer_mb;
        if rb == 0 || !rb.is_power_of_two() || rb > 1024 {
            return Err(format!(
                "sensors.ring_buffer_mb must be a power of two from 1 to 1024, not {rb}"
            ));
        }
        let u = &self.uplink;
        if u.spool_max_mb == 0 || u.batch_max_events == 0 || u.batch_max_events > 20_000 {
            return Err("uplink.spool_max_mb must be at least 1 and uplink.batch_max_events from 1 to 20000".into());
        }
        if u.in_flight == 0 || u.heartbeat_secs == 0 {
            return Err("uplink.in_flight and uplink.heartbeat_secs must be at least 1".into());
        }
        if self.sensors.exclude_paths.len() > 8 {
            return Err(format!(
                "sensors.exclude_paths holds at most 8 prefixes, not {}",
                self.sensors.exclude_paths.len()
            ));
        }
        if let Some(p) = self
            .sensors
            .exclude_paths
            .iter()
            .find(|p| p.is_empty() || p.len() >= 64 || !p.starts_with('/'))
        {
            return Err(format!(
                "sensors.exclude_paths entry {p:?} must be an absolute path shorter than 64 bytes"
            ));
        }
        self.protection.validate()?;
        self.antivirus.validate()?;
        self.tamper.validate()?;
        self.asr.validate()?;
        if let Some(p) = self
            .sensors
            .sensitive_files
            .iter()
            .find(|p| !p.starts_with('/') || p.contains("/../") || p.contains("**"))
        {
            return Err(format!(
                "sensors.sensitive_files entry {p:?} must be an absolute path (`*` within one component, no `..` or `**`)"
            ));
        }
        Ok(())
    }

    /// The sources switched on.
    pub fn sources(&self) -> Vec<Source> {
        let s = &self.sensors;
        [
            (Source::Process, s.process),
            (Source::File, s.file),
            (Source::Network, s.network),
            (Source::Dns, s.dns),
            (Source::Logon, s.logon),
            (Source::Security, s.security),
        ]
        .into_iter()
        .filter_map(|(src, on)| on.then_some(src))
        .collect()
    }

    /// Rate limits per source.
    pub fn rates(&self) -> Vec<(Source, u32)> {
        let l = &self.limits;
        vec![
            (Source::Process, l.process),
            (Source::File, l.file),
            (Source::Network, l.network),
            (Source::Dns, l.dns),
            (Source::Logon, l.logon),
            (Source::Security, l.security),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let e = AgentConfig::parse("[sensors]\nproces = true\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `proces`"), "{e}");
        assert!(e.contains("a.toml"), "{e}");
        let e = AgentConfig::parse("[sensor]\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `sensor`"), "{e}");
    }

    #[test]
    fn defaults_and_overrides() {
        let c = AgentConfig::parse(
            "[sensors]\nfile = false\nexclude_paths = [\"/data/\"]\n[limits]\nfile = 5\n",
            Path::new("x"),
        )
        .unwrap();
        assert!(!c.sources().contains(&Source::File));
        assert_eq!(c.limits.file, 5);
        assert_eq!(c.hashing, HashingConfig::default());
        assert_eq!(
            AgentConfig::parse("", Path::new("x")).unwrap(),
            AgentConfig::default()
        );
    }

    #[test]
    fn protection_section() {
        let c = AgentConfig::parse(
            "[protection]\nindicators_file = \"/etc/vigil/i.json\"\ndns_ttl_floor_secs = 5\n",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(c.protection.dns_ttl_floor_secs, 5);
        assert!(c.protection.enabled && c.protection.network && c.protection.exec);
        let bad = |text: &str| {
            AgentConfig::parse(text, Path::new("x"))
                .unwrap_err()
                .to_string()
        };
        let e = bad("[protection]\ndns_ttl_floor_secs = 90\ndns_ttl_cap_secs = 60\n");
        assert!(e.contains("must not exceed"), "{e}");
        let e = bad("[protection]\nindicators_file = \"rel.json\"\n");
        assert!(e.contains("absolute"), "{e}");
        let e = bad("[protection]\nnever_block = [\"10.0.0.0/33\"]\n");
        assert!(e.contains("\"10.0.0.0/33\""), "{e}");
        let e = bad("[protection]\nexec_timeout = 5\n");
        assert!(e.contains("unknown field `exec_timeout`"), "{e}");
    }

    #[test]
    fn the_documented_example_parses() {
        let src = include_str!("config.rs");
        let start = src.find("//! ```toml\n").expect("the example") + 12;
        let end = start + src[start..].find("//! ```").expect("its end");
        let text: String = src[start..end]
            .lines()
            .map(|l| l.strip_prefix("//!").unwrap_or(l).trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let c = AgentConfig::parse(&text, Path::new("example.toml")).unwrap();
        assert_eq!(c.asr.ransomware_threshold, 100);
        assert_eq!(c.antivirus.quick_scan_every, "off");
    }

    #[test]
    fn bad_values_are_explained() {
        let e = AgentConfig::parse("[sensors]\nring_buffer_mb = 3\n", Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("power of two"), "{e}");
        let e = AgentConfig::parse("[sensors]\nexclude_paths = [\"rel\"]\n", Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        let e = AgentConfig::parse("[sensors]\nfile = \"yes\"\n", Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
    }
}
