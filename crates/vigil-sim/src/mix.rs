//! A realistic event mix: the tables and ActionTypes a busy Linux server produces, in roughly
//! the proportions the agent emits them (processes and files dominate, logons are rare), with
//! plausible values in every column an analyst filters on.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vigil_schema::{Col, Row, Table, Timestamp};

const IMAGES: &[(&str, &str)] = &[
    ("/usr/bin/bash", "bash -c 'cd /srv/app && ./deploy.sh'"),
    ("/usr/bin/python3.11", "python3 /opt/jobs/report.py --daily"),
    ("/usr/sbin/sshd", "sshd: admin [priv]"),
    (
        "/usr/bin/curl",
        "curl -fsS https://updates.example.com/manifest.json",
    ),
    ("/usr/bin/git", "git fetch --all --prune"),
    (
        "/usr/lib/postgresql/15/bin/postgres",
        "postgres: checkpointer",
    ),
    ("/usr/bin/tar", "tar czf /var/backups/etc.tgz /etc"),
    ("/usr/bin/cron", "/usr/sbin/CRON -f"),
];
const USERS: &[&str] = &["root", "admin", "deploy", "postgres", "www-data"];
const FOLDERS: &[&str] = &[
    "/tmp",
    "/var/log/app",
    "/srv/app/releases",
    "/home/admin/.cache",
    "/etc/nginx/conf.d",
];

/// Generates rows for one simulated device.
pub struct Mix {
    rng: SmallRng,
    device_id: String,
    device_name: String,
    report: i64,
}

fn hex_of(rng: &mut SmallRng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

impl Mix {
    pub fn new(device_id: &str, device_name: &str, seed: u64) -> Mix {
        Mix {
            rng: SmallRng::seed_from_u64(seed),
            device_id: device_id.to_string(),
            device_name: device_name.to_string(),
            report: (seed as i64) << 32,
        }
    }

    fn initiating(&mut self, row: &mut Row) {
        let (path, cmd) = IMAGES[self.rng.random_range(0..IMAGES.len())];
        row.put(Col::InitiatingProcessFolderPath, path);
        row.put(
            Col::InitiatingProcessFileName,
            path.rsplit('/').next().unwrap_or(path),
        );
        row.put(Col::InitiatingProcessCommandLine, cmd);
        row.put(
            Col::InitiatingProcessId,
            self.rng.random_range(300..400_000i64),
        );
        row.put(
            Col::InitiatingProcessParentId,
            self.rng.random_range(1..300i64),
        );
        row.put(Col::InitiatingProcessParentFileName, "systemd");
        row.put(
            Col::InitiatingProcessAccountName,
            USERS[self.rng.random_range(0..USERS.len())],
        );
        let sha = hex_of(&mut self.rng, 32);
        row.put(Col::InitiatingProcessSHA256, sha);
    }

    /// The next row; `ReportId`s are unique per simulated device and increase by one.
    pub fn next_row(&mut self) -> Row {
        let now = Timestamp::now();
        let pick = self.rng.random_range(0..100);
        let mut row = if pick < 35 {
            let mut r = Row::event(Table::DeviceProcessEvents, "ProcessCreated", now);
            let (path, cmd) = IMAGES[self.rng.random_range(0..IMAGES.len())];
            r.put(Col::FileName, path.rsplit('/').next().unwrap_or(path));
            r.put(Col::FolderPath, path);
            r.put(
                Col::ProcessCommandLine,
                format!("{cmd} --run {}", self.rng.random::<u32>()),
            );
            r.put(Col::ProcessId, self.rng.random_range(300..400_000i64));
            r.put(
                Col::AccountName,
                USERS[self.rng.random_range(0..USERS.len())],
            );
            let sha = hex_of(&mut self.rng, 32);
            r.put(Col::SHA256, sha);
            r
        } else if pick < 45 {
            let mut r = Row::event(Table::DeviceProcessEvents, "ProcessTerminated", now);
            r.put(Col::ProcessId, self.rng.random_range(300..400_000i64));
            r.put_extra("exit_code", 0i64);
            r
        } else if pick < 75 {
            let action = ["FileCreated", "FileModified", "FileDeleted", "FileRenamed"]
                [self.rng.random_range(0..4)];
            let mut r = Row::event(Table::DeviceFileEvents, action, now);
            let folder = FOLDERS[self.rng.random_range(0..FOLDERS.len())];
            let name = format!("f{}.log", self.rng.random::<u16>());
            r.put(Col::FolderPath, format!("{folder}/{name}"));
            r.put(Col::FileName, name);
            if action != "FileDeleted" {
                let sha = hex_of(&mut self.rng, 32);
                r.put(Col::SHA256, sha);
                r.put(Col::FileSize, self.rng.random_range(0..10_000_000i64));
            }
            r
        } else if pick < 93 {
            let action = [
                "ConnectionSuccess",
                "ConnectionSuccess",
                "InboundConnectionAccepted",
                "ConnectionFailed",
            ][self.rng.random_range(0..4)];
            let mut r = Row::event(Table::DeviceNetworkEvents, action, now);
            r.put(
                Col::RemoteIP,
                format!(
                    "10.{}.{}.{}",
                    self.rng.random::<u8>(),
                    self.rng.random::<u8>(),
                    self.rng.random::<u8>()
                ),
            );
            r.put(
                Col::RemotePort,
                [443i32, 80, 5432, 22, 53][self.rng.random_range(0..5)],
            );
            r.put(Col::LocalIP, "10.0.0.5");
            r.put(Col::LocalPort, self.rng.random_range(32768..60999i32));
            r.put(Col::Protocol, "Tcp");
            r
        } else if pick < 99 {
            let mut r = Row::event(Table::DeviceEvents, "DnsQueryResponse", now);
            r.put_extra(
                "DnsQueryString",
                format!("host{}.example.com", self.rng.random::<u8>()),
            );
            r
        } else {
            let ok = self.rng.random_bool(0.8);
            let mut r = Row::event(
                Table::DeviceLogonEvents,
                if ok { "LogonSuccess" } else { "LogonFailed" },
                now,
            );
            r.put(
                Col::AccountName,
                USERS[self.rng.random_range(0..USERS.len())],
            );
            r.put(Col::LogonType, "Network");
            r.put(Col::Protocol, "ssh");
            r.put(Col::RemoteIP, "192.0.2.10");
            r
        };
        if row.table() != Table::DeviceLogonEvents
            || row.get(Col::InitiatingProcessFileName).is_null()
        {
            self.initiating(&mut row);
        }
        row.put(Col::DeviceId, self.device_id.as_str());
        row.put(Col::DeviceName, self.device_name.as_str());
        self.report += 1;
        row.put(Col::ReportId, self.report);
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fit_the_schema_and_report_ids_increase() {
        let mut m = Mix::new("d", "n", 7);
        let rows: Vec<Row> = (0..1000).map(|_| m.next_row()).collect();
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.get_i64(Col::ReportId).unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
        let tables: std::collections::BTreeSet<_> = rows.iter().map(|r| r.table()).collect();
        assert!(tables.len() >= 4, "{tables:?}");
        // Every row survives the wire codec.
        let bytes = vigil_schema::wire::encode_batch(&rows);
        assert_eq!(
            vigil_schema::wire::decode_batch(&bytes, 2000).unwrap(),
            rows
        );
    }
}
