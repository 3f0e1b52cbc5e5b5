//! Checks that the schema's derived forms (Arrow, protobuf) agree with the catalogue and with
//! MDE's conventions.

use std::collections::HashSet;

use vigil_schema::arrow::arrow_schema;
use vigil_schema::proto::events_proto;
use vigil_schema::{Col, Table};

#[test]
fn checked_in_proto_matches_the_catalogue() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../proto/vigil/events.proto"
    );
    let generated = events_proto();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "proto/vigil/events.proto is stale: run `cargo xtask codegen` (or UPDATE_EXPECT=1)"
    );
}

#[test]
fn arrow_schemas_follow_the_column_lists() {
    for &t in Table::ALL {
        let schema = arrow_schema(t);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let expected: Vec<&str> = t.columns().iter().map(|c| c.name()).collect();
        assert_eq!(names, expected, "{}", t.name());
    }
}

#[test]
fn every_table_has_the_common_columns() {
    for &t in Table::ALL {
        assert_eq!(
            t.columns()[0],
            Col::Timestamp,
            "{} must start with Timestamp",
            t.name()
        );
        if !t.written_by_agents() {
            // The alert tables have MDE's columns: no ReportId, no device on AlertInfo.
            assert!(t.has(Col::AlertId), "{}", t.name());
            assert!(
                !t.has(Col::ReportId) && !t.has(Col::ActionType),
                "{}",
                t.name()
            );
            continue;
        }
        for c in [
            Col::Timestamp,
            Col::DeviceId,
            Col::DeviceName,
            Col::ReportId,
            Col::AdditionalFields,
        ] {
            assert!(t.has(c), "{} lacks {}", t.name(), c.name());
        }
        let event_table = !t.action_types().is_empty();
        assert_eq!(t.has(Col::ActionType), event_table, "{}", t.name());
        assert_eq!(t.has(Col::InitiatingProcessId), event_table, "{}", t.name());
    }
}

#[test]
fn names_and_numbers_are_unique() {
    let names: HashSet<&str> = Col::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), Col::ALL.len());
    for c in Col::ALL {
        assert_eq!(Col::from_name(c.name()), Some(*c));
    }
    let ids: HashSet<u16> = Table::ALL.iter().map(|t| t.id()).collect();
    assert_eq!(ids.len(), Table::ALL.len());
    let actions: Vec<&str> = Table::ALL
        .iter()
        .flat_map(|t| t.action_types().iter().copied())
        .collect();
    let unique: HashSet<&&str> = actions.iter().collect();
    assert_eq!(
        unique.len(),
        actions.len(),
        "an ActionType belongs to one table"
    );
}

#[test]
fn mde_names_and_types_of_well_known_columns() {
    use vigil_schema::ColumnType::*;
    let expect = [
        ("ProcessCommandLine", String),
        ("ProcessId", Long),
        ("RemotePort", Int),
        ("LocalPort", Int),
        ("InitiatingProcessCreationTime", DateTime),
        ("AdditionalFields", Dynamic),
        ("IsLocalAdmin", Bool),
        ("FileSize", Long),
    ];
    for (name, ty) in expect {
        assert_eq!(Col::from_name(name).unwrap().ty(), ty, "{name}");
    }
    for name in [
        "ProcessCreated",
        "ConnectionSuccess",
        "ConnectionFailed",
        "InboundConnectionAccepted",
        "ListeningConnectionCreated",
        "ConnectionAttempt",
        "DnsQueryResponse",
        "FileCreated",
        "FileModified",
        "FileRenamed",
        "FileDeleted",
        "LogonSuccess",
        "LogonFailed",
    ] {
        assert!(
            Table::ALL.iter().any(|t| t.action_types().contains(&name)),
            "{name}"
        );
    }
}
