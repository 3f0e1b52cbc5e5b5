//! The column catalogue: every column of every table, named and typed once.
//!
//! A column's number is its identity on the wire (it is the protobuf field number in every
//! table message), so numbers are explicit, grouped by family, and never reused: retire a
//! column by leaving its number out, not by giving it to another.

/// The value types of MDE's advanced-hunting schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// 64-bit signed integer (`long` in KQL).
    Long,
    /// 32-bit signed integer (`int` in KQL).
    Int,
    /// Boolean.
    Bool,
    /// Instant in UTC with nanosecond precision.
    DateTime,
    /// Semi-structured JSON value (`dynamic` in KQL).
    Dynamic,
}

impl ColumnType {
    /// The KQL name of the type, as MDE documents it.
    pub fn kql_name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Long => "long",
            ColumnType::Int => "int",
            ColumnType::Bool => "bool",
            ColumnType::DateTime => "datetime",
            ColumnType::Dynamic => "dynamic",
        }
    }
}

macro_rules! columns {
    ($( $id:literal $name:ident : $ty:ident ),* $(,)?) => {
        /// A column of the telemetry schema. The discriminant is the column's stable number.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Col { $( $name = $id ),* }

        impl Col {
            /// Every column, in catalogue order.
            pub const ALL: &'static [Col] = &[ $( Col::$name ),* ];

            /// The MDE column name.
            pub fn name(self) -> &'static str {
                match self { $( Col::$name => stringify!($name) ),* }
            }

            /// The column's value type.
            pub fn ty(self) -> ColumnType {
                match self { $( Col::$name => ColumnType::$ty ),* }
            }

            /// The stable column number (the protobuf field number).
            pub fn id(self) -> u16 {
                self as u16
            }

            /// Look a column up by its stable number.
            pub fn from_id(id: u16) -> Option<Col> {
                match id { $( $id => Some(Col::$name), )* _ => None }
            }

            /// Look a column up by its exact MDE name.
            pub fn from_name(name: &str) -> Option<Col> {
                match name { $( stringify!($name) => Some(Col::$name), )* _ => None }
            }
        }
    };
}

columns! {
    // Common columns (1-19).
    1 Timestamp: DateTime,
    2 DeviceId: String,
    3 DeviceName: String,
    4 ActionType: String,
    5 ReportId: Long,
    6 AdditionalFields: Dynamic,
    7 AppGuardContainerId: String,

    // The file or process an event is about (20-59).
    20 FileName: String,
    21 FolderPath: String,
    22 SHA1: String,
    23 SHA256: String,
    24 MD5: String,
    25 FileSize: Long,
    26 PreviousFileName: String,
    27 PreviousFolderPath: String,
    28 FileOriginUrl: String,
    29 FileOriginReferrerUrl: String,
    30 FileOriginIP: String,
    31 ProcessId: Long,
    32 ProcessCommandLine: String,
    33 ProcessCreationTime: DateTime,
    34 ProcessIntegrityLevel: String,
    35 ProcessTokenElevation: String,
    36 ProcessVersionInfoCompanyName: String,
    37 ProcessVersionInfoProductName: String,
    38 ProcessVersionInfoProductVersion: String,
    39 ProcessVersionInfoInternalFileName: String,
    40 ProcessVersionInfoOriginalFileName: String,
    41 ProcessVersionInfoFileDescription: String,
    42 ProcessUniqueId: Long,
    43 CreatedProcessSessionId: Long,
    44 IsProcessRemoteSession: Bool,
    45 ProcessRemoteSessionDeviceName: String,
    46 ProcessRemoteSessionIP: String,
    47 SensitivityLabel: String,
    48 SensitivitySubLabel: String,
    49 IsAzureInfoProtectionApplied: Bool,
    50 ShareName: String,
    51 RequestProtocol: String,
    52 RequestSourceIP: String,
    53 RequestSourcePort: Int,
    54 RequestAccountName: String,
    55 RequestAccountDomain: String,
    56 RequestAccountSid: String,

    // Accounts and logons (60-79).
    60 AccountDomain: String,
    61 AccountName: String,
    62 AccountSid: String,
    63 AccountUpn: String,
    64 AccountObjectId: String,
    65 LogonId: Long,
    66 LogonType: String,
    67 FailureReason: String,
    68 IsLocalAdmin: Bool,
    69 Protocol: String,

    // Network (80-99).
    80 RemoteIP: String,
    81 RemotePort: Int,
    82 RemoteUrl: String,
    83 LocalIP: String,
    84 LocalPort: Int,
    85 LocalIPType: String,
    86 RemoteIPType: String,
    87 RemoteDeviceName: String,

    // Registry (Windows only; kept so that MDE queries type-check) (100-109).
    100 RegistryKey: String,
    101 RegistryValueName: String,
    102 RegistryValueData: String,

    // The initiating process block (120-169).
    120 InitiatingProcessAccountDomain: String,
    121 InitiatingProcessAccountName: String,
    122 InitiatingProcessAccountSid: String,
    123 InitiatingProcessAccountUpn: String,
    124 InitiatingProcessAccountObjectId: String,
    125 InitiatingProcessLogonId: Long,
    126 InitiatingProcessIntegrityLevel: String,
    127 InitiatingProcessTokenElevation: String,
    128 InitiatingProcessSHA1: String,
    129 InitiatingProcessSHA256: String,
    130 InitiatingProcessMD5: String,
    131 InitiatingProcessFileName: String,
    132 InitiatingProcessFileSize: Long,
    133 InitiatingProcessVersionInfoCompanyName: String,
    134 InitiatingProcessVersionInfoProductName: String,
    135 InitiatingProcessVersionInfoProductVersion: String,
    136 InitiatingProcessVersionInfoInternalFileName: String,
    137 InitiatingProcessVersionInfoOriginalFileName: String,
    138 InitiatingProcessVersionInfoFileDescription: String,
    139 InitiatingProcessId: Long,
    140 InitiatingProcessCommandLine: String,
    141 InitiatingProcessCreationTime: DateTime,
    142 InitiatingProcessFolderPath: String,
    143 InitiatingProcessParentId: Long,
    144 InitiatingProcessParentFileName: String,
    145 InitiatingProcessParentCreationTime: DateTime,
    146 InitiatingProcessSignerType: String,
    147 InitiatingProcessSignatureStatus: String,
    148 InitiatingProcessSessionId: Long,
    149 IsInitiatingProcessRemoteSession: Bool,
    150 InitiatingProcessRemoteSessionDeviceName: String,
    151 InitiatingProcessRemoteSessionIP: String,
    152 InitiatingProcessUniqueId: Long,

    // Device inventory (200-259).
    200 ClientVersion: String,
    201 PublicIP: String,
    202 OSArchitecture: String,
    203 OSPlatform: String,
    204 OSBuild: Long,
    205 OSVersion: String,
    206 OSDistribution: String,
    207 OSVersionInfo: String,
    208 IsAzureADJoined: Bool,
    209 LoggedOnUsers: Dynamic,
    210 RegistryDeviceTag: String,
    211 MachineGroup: String,
    212 OnboardingStatus: String,
    213 DeviceCategory: String,
    214 DeviceType: String,
    215 DeviceSubtype: String,
    216 Model: String,
    217 Vendor: String,
    218 SensorHealthState: String,
    219 IsExcluded: Bool,
    220 ExclusionReason: String,
    221 ExposureLevel: String,
    222 AssetValue: String,
    223 DeviceManualTags: Dynamic,
    224 DeviceDynamicTags: Dynamic,
    225 HostDeviceId: String,

    // Network adapters (260-279).
    260 NetworkAdapterName: String,
    261 MacAddress: String,
    262 NetworkAdapterType: String,
    263 NetworkAdapterStatus: String,
    264 TunnelType: String,
    265 ConnectedNetworks: Dynamic,
    266 DnsAddresses: Dynamic,
    267 IPv4Dhcp: String,
    268 IPv6Dhcp: String,
    269 DefaultGateways: Dynamic,
    270 IPAddresses: Dynamic,
    271 NetworkAdapterVendor: String,

    // Alerts and their evidence (300-329), written by the server, never by agents.
    300 AlertId: String,
    301 Title: String,
    302 Category: String,
    303 Severity: String,
    304 ServiceSource: String,
    305 DetectionSource: String,
    306 AttackTechniques: String,
    307 Categories: String,
    308 EntityType: String,
    309 EvidenceRole: String,
    310 EvidenceDirection: String,
    311 ThreatFamily: String,
}
