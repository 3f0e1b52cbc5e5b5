//! The tables: which columns each one has, in MDE's order, and which ActionTypes it uses.

use std::sync::OnceLock;

use crate::columns::Col;

/// The MDE advanced-hunting tables that Vigil fills: the agents' telemetry and the server's
/// alert tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    DeviceProcessEvents,
    DeviceNetworkEvents,
    DeviceFileEvents,
    DeviceLogonEvents,
    DeviceEvents,
    DeviceImageLoadEvents,
    DeviceInfo,
    DeviceNetworkInfo,
    AlertInfo,
    AlertEvidence,
}

impl Table {
    /// Every table.
    pub const ALL: &'static [Table] = &[
        Table::DeviceProcessEvents,
        Table::DeviceNetworkEvents,
        Table::DeviceFileEvents,
        Table::DeviceLogonEvents,
        Table::DeviceEvents,
        Table::DeviceImageLoadEvents,
        Table::DeviceInfo,
        Table::DeviceNetworkInfo,
        Table::AlertInfo,
        Table::AlertEvidence,
    ];

    /// The MDE table name.
    pub fn name(self) -> &'static str {
        match self {
            Table::DeviceProcessEvents => "DeviceProcessEvents",
            Table::DeviceNetworkEvents => "DeviceNetworkEvents",
            Table::DeviceFileEvents => "DeviceFileEvents",
            Table::DeviceLogonEvents => "DeviceLogonEvents",
            Table::DeviceEvents => "DeviceEvents",
            Table::DeviceImageLoadEvents => "DeviceImageLoadEvents",
            Table::DeviceInfo => "DeviceInfo",
            Table::DeviceNetworkInfo => "DeviceNetworkInfo",
            Table::AlertInfo => "AlertInfo",
            Table::AlertEvidence => "AlertEvidence",
        }
    }

    /// Look a table up by its exact MDE name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Look a table up by its stable number.
    pub fn from_id(id: u16) -> Option<Table> {
        Table::ALL.iter().copied().find(|t| t.id() == id)
    }

    /// The stable table number (the field number of the table in the wire `Event` oneof).
    pub fn id(self) -> u16 {
        match self {
            Table::DeviceProcessEvents => 1,
            Table::DeviceNetworkEvents => 2,
            Table::DeviceFileEvents => 3,
            Table::DeviceLogonEvents => 4,
            Table::DeviceEvents => 5,
            Table::DeviceImageLoadEvents => 6,
            Table::DeviceInfo => 7,
            Table::DeviceNetworkInfo => 8,
            Table::AlertInfo => 9,
            Table::AlertEvidence => 10,
        }
    }

    /// The table's columns in MDE's order.
    pub fn columns(self) -> &'static [Col] {
        &layout(self).columns
    }

    /// Position of `col` in this table's column list, if the table has it.
    pub fn position(self, col: Col) -> Option<usize> {
        let p = layout(self).positions[col.id() as usize];
        (p != NONE).then_some(p as usize)
    }

    /// Whether the table has the column.
    pub fn has(self, col: Col) -> bool {
        self.position(col).is_some()
    }

    /// Whether agents write this table. The alert tables are the server's own record of what
    /// detection found; an agent batch holding one of their rows is refused.
    pub fn written_by_agents(self) -> bool {
        !matches!(self, Table::AlertInfo | Table::AlertEvidence)
    }

    /// The ActionType values Vigil writes into this table (empty for snapshot tables that have
    /// no ActionType column).
    pub fn action_types(self) -> &'static [&'static str] {
        match self {
            Table::DeviceProcessEvents => &["ProcessCreated", "ProcessTerminated", "ProcessForked"],
            Table::DeviceNetworkEvents => &[
                "ConnectionSuccess",
                "ConnectionFailed",
                "ConnectionAttempt",
                "InboundConnectionAccepted",
                "ListeningConnectionCreated",
            ],
            Table::DeviceFileEvents => &[
                "FileCreated",
                "FileModified",
                "FileRenamed",
                "FileDeleted",
                "FilePermissionsChanged",
            ],
            Table::DeviceLogonEvents => {
                &["LogonSuccess", "LogonFailed", "LogonAttempted", "Logoff"]
            }
            Table::DeviceEvents => &[
                "DnsQueryResponse",
                "DriverLoad",
                "ProcessPtraceAttach",
                "ProcessCredentialsChanged",
                "BpfProgramLoaded",
                "MemfdCreated",
                "SensitiveFileRead",
                "PersonalityChanged",
                "KernelLogControlled",
                "SpecialFileCreated",
                "SystemInfoQueried",
                "ServiceStopped",
                "ProcessPrivilegeElevation",
                "SensorHealth",
                "SensorEventsDropped",
                "AntivirusDetection",
                "AntivirusReport",
                "AntivirusScanFailed",
                "AntivirusScanCompleted",
                "AntivirusScanCancelled",
                "ExploitGuardNetworkProtectionBlocked",
                // Attack surface reduction: `Asr<Rule>Audited` (audit and warn modes) and
                // `Asr<Rule>Blocked`, one pair per rule of the agent's `asr` module.
                "AsrUntrustedExecutableAudited",
                "AsrUntrustedExecutableBlocked",
                "AsrServerShellAudited",
                "AsrServerShellBlocked",
                "AsrOfficeChildProcessAudited",
                "AsrOfficeChildProcessBlocked",
                "AsrProcessInjectionAudited",
                "AsrProcessInjectionBlocked",
                "AsrPreloadModificationAudited",
                "AsrPreloadModificationBlocked",
                "AsrUntrustedKernelModuleAudited",
                "AsrUntrustedKernelModuleBlocked",
                "AsrCredentialTheftAudited",
                "AsrCredentialTheftBlocked",
                "AsrPersistenceModificationAudited",
                "AsrPersistenceModificationBlocked",
                "AsrDownloadedExecutableAudited",
                "AsrDownloadedExecutableBlocked",
                "AsrRansomwareAudited",
                "AsrRansomwareBlocked",
                // Tamper protection: a signal, write or unload aimed at the agent.
                "TamperingAttempt",
            ],
            Table::DeviceImageLoadEvents => &["ImageLoaded"],
            Table::DeviceInfo
            | Table::DeviceNetworkInfo
            | Table::AlertInfo
            | Table::AlertEvidence => &[],
        }
    }
}

const NONE: u16 = u16::MAX;

struct Layout {
    columns: Vec<Col>,
    positions: Vec<u16>,
}

fn layout(table: Table) -> &'static Layout {
    static LAYOUTS: OnceLock<Vec<Layout>> = OnceLock::new();
    let all = LAYOUTS.get_or_init(|| {
        Table::ALL
            .iter()
            .map(|&t| {
                let columns = column_list(t);
                let max = Col::ALL.iter().map(|c| c.id()).max().unwrap_or(0) as usize;
                let mut positions = vec![NONE; max + 1];
                for (i, c) in columns.iter().enumerate() {
                    assert_eq!(
                        positions[c.id() as usize],
                        NONE,
                        "{:?} twice in {}",
                        c,
                        t.name()
                    );
                    positions[c.id() as usize] = i as u16;
                }
                Layout { columns, positions }
            })
            .collect()
    });
    &all[Table::ALL
        .iter()
        .position(|&t| t == table)
        .expect("table in ALL")]
}

/// The `InitiatingProcess*` block shared by every event table.
const INITIATING: &[Col] = &[
    Col::InitiatingProcessAccountDomain,
    Col::InitiatingProcessAccountName,
    Col::InitiatingProcessAccountSid,
    Col::InitiatingProcessAccountUpn,
    Col::InitiatingProcessAccountObjectId,
    Col::InitiatingProcessLogonId,
    Col::InitiatingProcessIntegrityLevel,
    Col::InitiatingProcessTokenElevation,
    Col::InitiatingProcessSHA1,
    Col::InitiatingProcessSHA256,
    Col::InitiatingProcessMD5,
    Col::InitiatingProcessFileName,
    Col::InitiatingProcessFileSize,
    Col::InitiatingProcessVersionInfoCompanyName,
    Col::InitiatingProcessVersionInfoProductName,
    Col::InitiatingProcessVersionInfoProductVersion,
    Col::InitiatingProcessVersionInfoInternalFileName,
    Col::InitiatingProcessVersionInfoOriginalFileName,
    Col::InitiatingProcessVersionInfoFileDescription,
    Col::InitiatingProcessId,
    Col::InitiatingProcessCommandLine,
    Col::InitiatingProcessCreationTime,
    Col::InitiatingProcessFolderPath,
    Col::InitiatingProcessParentId,
    Col::InitiatingProcessParentFileName,
    Col::InitiatingProcessParentCreationTime,
    Col::InitiatingProcessSignerType,
    Col::InitiatingProcessSignatureStatus,
];

/// Columns that close every event table.
const TRAILER: &[Col] = &[
    Col::ReportId,
    Col::AppGuardContainerId,
    Col::AdditionalFields,
    Col::InitiatingProcessSessionId,
    Col::IsInitiatingProcessRemoteSession,
    Col::InitiatingProcessRemoteSessionDeviceName,
    Col::InitiatingProcessRemoteSessionIP,
    Col::InitiatingProcessUniqueId,
];

const HEAD: &[Col] = &[
    Col::Timestamp,
    Col::DeviceId,
    Col::DeviceName,
    Col::ActionType,
];

const FILE: &[Col] = &[
    Col::FileName,
    Col::FolderPath,
    Col::SHA1,
    Col::SHA256,
    Col::MD5,
];

fn column_list(table: Table) -> Vec<Col> {
    use Col::*;
    let event = |specific: &[Col]| -> Vec<Col> { [HEAD, specific, INITIATING, TRAILER].concat() };
    match table {
        Table::DeviceProcessEvents => event(
            &[
                FILE,
                &[
                    FileSize,
                    ProcessVersionInfoCompanyName,
                    ProcessVersionInfoProductName,
                    ProcessVersionInfoProductVersion,
                    ProcessVersionInfoInternalFileName,
                    ProcessVersionInfoOriginalFileName,
                    ProcessVersionInfoFileDescription,
                    ProcessId,
                    ProcessCommandLine,
                    ProcessIntegrityLevel,
                    ProcessTokenElevation,
                    ProcessCreationTime,
                    AccountDomain,
                    AccountName,
                    AccountSid,
                    AccountUpn,
                    AccountObjectId,
                    LogonId,
                    ProcessUniqueId,
                    CreatedProcessSessionId,
                    IsProcessRemoteSession,
                    ProcessRemoteSessionDeviceName,
                    ProcessRemoteSessionIP,
                ],
            ]
            .concat(),
        ),
        Table::DeviceNetworkEvents => event(&[
            RemoteIP,
            RemotePort,
            RemoteUrl,
            LocalIP,
            LocalPort,
            Protocol,
            LocalIPType,
            RemoteIPType,
        ]),
        Table::DeviceFileEvents => event(
            &[
                FILE,
                &[
                    FileOriginUrl,
                    FileOriginReferrerUrl,
                    FileOriginIP,
                    PreviousFolderPath,
                    PreviousFileName,
                    FileSize,
                    RequestProtocol,
                    RequestSourceIP,
                    RequestSourcePort,
                    RequestAccountName,
                    RequestAccountDomain,
                    RequestAccountSid,
                    ShareName,
                    SensitivityLabel,
                    SensitivitySubLabel,
                    IsAzureInfoProtectionApplied,
                ],
            ]
            .concat(),
        ),
        Table::DeviceLogonEvents => event(&[
            LogonType,
            AccountDomain,
            AccountName,
            AccountSid,
            Protocol,
            FailureReason,
            IsLocalAdmin,
            LogonId,
            RemoteDeviceName,
            RemoteIP,
            RemoteIPType,
            RemotePort,
        ]),
        Table::DeviceEvents => event(
            &[
                FILE,
                &[
                    FileSize,
                    AccountDomain,
                    AccountName,
                    AccountSid,
                    RemoteUrl,
                    RemoteDeviceName,
                    ProcessId,
                    ProcessCommandLine,
                    ProcessCreationTime,
                    ProcessTokenElevation,
                    LogonId,
                    RegistryKey,
                    RegistryValueName,
                    RegistryValueData,
                    RemoteIP,
                    RemotePort,
                    LocalIP,
                    LocalPort,
                    FileOriginUrl,
                    FileOriginIP,
                ],
            ]
            .concat(),
        ),
        Table::DeviceImageLoadEvents => event(&[FILE, &[FileSize]].concat()),
        Table::DeviceInfo => vec![
            Timestamp,
            DeviceId,
            DeviceName,
            ClientVersion,
            PublicIP,
            OSArchitecture,
            OSPlatform,
            OSBuild,
            IsAzureADJoined,
            LoggedOnUsers,
            RegistryDeviceTag,
            OSVersion,
            MachineGroup,
            ReportId,
            OnboardingStatus,
            AdditionalFields,
            DeviceCategory,
            DeviceType,
            DeviceSubtype,
            Model,
            Vendor,
            OSDistribution,
            OSVersionInfo,
            SensorHealthState,
            IsExcluded,
            ExclusionReason,
            ExposureLevel,
            AssetValue,
            DeviceManualTags,
            DeviceDynamicTags,
            HostDeviceId,
        ],
        Table::DeviceNetworkInfo => vec![
            Timestamp,
            DeviceId,
            DeviceName,
            NetworkAdapterName,
            MacAddress,
            NetworkAdapterType,
            NetworkAdapterStatus,
            TunnelType,
            ConnectedNetworks,
            DnsAddresses,
            IPv4Dhcp,
            IPv6Dhcp,
            DefaultGateways,
            IPAddresses,
            ReportId,
            NetworkAdapterVendor,
            AdditionalFields,
        ],
        Table::AlertInfo => vec![
            Timestamp,
            AlertId,
            Title,
            Category,
            Severity,
            ServiceSource,
            DetectionSource,
            AttackTechniques,
        ],
        Table::AlertEvidence => vec![
            Timestamp,
            AlertId,
            Title,
            Categories,
            AttackTechniques,
            ServiceSource,
            DetectionSource,
            EntityType,
            EvidenceRole,
            EvidenceDirection,
            FileName,
            FolderPath,
            SHA1,
            SHA256,
            FileSize,
            ThreatFamily,
            RemoteIP,
            RemoteUrl,
            AccountName,
            AccountDomain,
            AccountSid,
            AccountObjectId,
            AccountUpn,
            DeviceId,
            DeviceName,
            LocalIP,
            ProcessCommandLine,
            AdditionalFields,
            RegistryKey,
            RegistryValueName,
            RegistryValueData,
            Severity,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    /// Every ASR ActionType comes as a pair, so that a rule in audit mode and the same rule
    /// in block mode both have a name the store accepts.
    #[test]
    fn asr_action_types_come_in_audited_and_blocked_pairs() {
        let types = Table::DeviceEvents.action_types();
        let asr: Vec<&str> = types
            .iter()
            .copied()
            .filter(|t| t.starts_with("Asr"))
            .collect();
        assert!(asr.len() >= 20, "{asr:?}");
        for t in &asr {
            let (rule, other) = if let Some(r) = t.strip_suffix("Audited") {
                (r, format!("{r}Blocked"))
            } else if let Some(r) = t.strip_suffix("Blocked") {
                (r, format!("{r}Audited"))
            } else {
                panic!("{t} ends neither in Audited nor in Blocked");
            };
            assert!(rule.len() > 3, "{t} names no rule");
            assert!(types.contains(&other.as_str()), "{t} without {other}");
        }
        assert!(types.contains(&"TamperingAttempt"));
    }
}
