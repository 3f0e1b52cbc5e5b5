//! A realistic event mix: the tables and ActionTypes a busy Linux server produces, in roughly
//! the proportions the agent emits them (processes and files dominate, logons are rare), with
//! plausible values in every column an analyst filters on.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vigil_schema::{Col, Row, Table, Timestamp};

/// The programs of a busy application server: (image, command line, account, the parent that
/// starts it (an index here, or `None` for systemd), the folder its files go to). Each program
/// does what it does on a real host, so that the mix is benign the way a real fleet is.
const IMAGES: &[(&str, &str, &str, Option<usize>, &str)] = &[
    (
        "/usr/bin/bash",
        "bash -c 'cd /srv/app && ./deploy.sh'",
        "deploy",
        Some(2),
        "/srv/app/releases",
    ),
    (
        "/usr/bin/python3.11",
        "python3 /opt/jobs/report.py --daily",
        "deploy",
        Some(7),
        "/var/log/app",
    ),
    (
        "/usr/sbin/sshd",
        "sshd: admin [priv]",
        "root",
        None,
        "/var/lib/sshd",
    ),
    (
        "/usr/bin/curl",
        "curl -fsS https://updates.example.com/manifest.json",
        "deploy",
        Some(0),
        "/srv/app/cache",
    ),
    (
        "/usr/bin/git",
        "git fetch --all --prune",
        "deploy",
        Some(0),
        "/srv/app/.git/objects",
    ),
    (
        "/usr/lib/postgresql/15/bin/postgres",
        "postgres: checkpointer",
        "postgres",
        None,
        "/var/lib/postgresql/15/main/base",
    ),
    (
        "/usr/bin/tar",
        "tar czf /var/backups/etc.tgz /etc",
        "root",
        Some(7),
        "/var/backups",
    ),
    (
        "/usr/sbin/cron",
        "/usr/sbin/cron -f",
        "root",
        None,
        "/var/lib/cron",
    ),
];
/// Remote ports per program (outbound), by index in `IMAGES`.
const PORTS: &[i32] = &[443, 443, 22, 443, 443, 5432, 443, 443];
/// Generates rows for one simulated device.
pub struct Mix {
    rng: SmallRng,
    device_id: String,
    device_name: String,
    report: i64,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
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

    /// The initiating-process columns for program `i` (systemd when `None`).
    fn initiating(&mut self, row: &mut Row, i: Option<usize>) {
        let (path, cmd, user, parent) = match i {
            Some(i) => {
                let (path, cmd, user, parent, _) = IMAGES[i];
                (
                    path,
                    cmd,
                    user,
                    parent.map_or("systemd", |p| file_name(IMAGES[p].0)),
                )
            }
            None => ("/usr/lib/systemd/systemd", "/sbin/init", "root", "swapper"),
        };
        row.put(Col::InitiatingProcessFolderPath, path);
        row.put(Col::InitiatingProcessFileName, file_name(path));
        row.put(Col::InitiatingProcessCommandLine, cmd);
        row.put(
            Col::InitiatingProcessId,
            self.rng.random_range(300..400_000i64),
        );
        row.put(
            Col::InitiatingProcessParentId,
            self.rng.random_range(1..300i64),
        );
        row.put(Col::InitiatingProcessParentFileName, parent);
        row.put(Col::InitiatingProcessAccountName, user);
        let sha = hex_of(&mut self.rng, 32);
        row.put(Col::InitiatingProcessSHA256, sha);
    }

    /// The next row; `ReportId`s are unique per simulated device and increase by one.
    pub fn next_row(&mut self) -> Row {
        let now = Timestamp::now();
        let pick = self.rng.random_range(0..100);
        let mut row = if pick < 35 {
            let mut r = Row::event(Table::DeviceProcessEvents, "ProcessCreated", now);
            let i = self.rng.random_range(0..IMAGES.len());
            let (path, cmd, user, parent, _) = IMAGES[i];
            r.put(Col::FileName, file_name(path));
            r.put(Col::FolderPath, path);
            r.put(
                Col::ProcessCommandLine,
                format!("{cmd} --run {}", self.rng.random::<u32>()),
            );
            r.put(Col::ProcessId, self.rng.random_range(300..400_000i64));
            r.put(Col::AccountName, user);
            let sha = hex_of(&mut self.rng, 32);
            r.put(Col::SHA256, sha);
            self.initiating(&mut r, parent);
            r
        } else if pick < 45 {
            let mut r = Row::event(Table::DeviceProcessEvents, "ProcessTerminated", now);
            r.put(Col::ProcessId, self.rng.random_range(300..400_000i64));
            r.put_extra("exit_code", 0i64);
            let i = self.rng.random_range(0..IMAGES.len());
            self.initiating(&mut r, IMAGES[i].3);
            r
        } else if pick < 75 {
            // A program writes in its own folder; what it deletes are its temporary files in /tmp.
            let i = self.rng.random_range(0..IMAGES.len());
            let action = ["FileCreated", "FileModified", "FileDeleted", "FileRenamed"]
                [self.rng.random_range(0..4)];
            let mut r = Row::event(Table::DeviceFileEvents, action, now);
            let (folder, name) = if action == "FileDeleted" {
                (
                    "/tmp",
                    format!(
                        "{}-{}.part",
                        file_name(IMAGES[i].0),
                        self.rng.random::<u16>()
                    ),
                )
            } else {
                (IMAGES[i].4, format!("f{}.dat", self.rng.random::<u16>()))
            };
            r.put(Col::FolderPath, format!("{folder}/{name}"));
            r.put(Col::FileName, name);
            if action != "FileDeleted" {
                let sha = hex_of(&mut self.rng, 32);
                r.put(Col::SHA256, sha);
                r.put(Col::FileSize, self.rng.random_range(0..10_000_000i64));
            }
            self.initiating(&mut r, Some(i));
            r
        } else if pick < 93 {
            let action = [
                "ConnectionSuccess",
                "ConnectionSuccess",
                "InboundConnectionAccepted",
                "ConnectionFailed",
            ][self.rng.random_range(0..4)];
            let i = self.rng.random_range(0..IMAGES.len());
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
            // Outbound to the program's service port; inbound to sshd or postgres.
            let (i, remote, local) = if action == "InboundConnectionAccepted" {
                let i = if self.rng.random_bool(0.5) { 2 } else { 5 };
                (i, self.rng.random_range(32768..60999i32), PORTS[i])
            } else {
                (i, PORTS[i], self.rng.random_range(32768..60999i32))
            };
            r.put(Col::RemotePort, remote);
            r.put(Col::LocalIP, "10.0.0.5");
            r.put(Col::LocalPort, local);
            r.put(Col::Protocol, "Tcp");
            self.initiating(&mut r, Some(i));
            r
        } else if pick < 99 {
            let mut r = Row::event(Table::DeviceEvents, "DnsQueryResponse", now);
            r.put_extra(
                "DnsQueryString",
                format!("host{}.example.com", self.rng.random::<u8>()),
            );
            let i = [3, 4, 1][self.rng.random_range(0..3)];
            self.initiating(&mut r, Some(i));
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
                ["admin", "deploy", "root"][self.rng.random_range(0..3)],
            );
            r.put(Col::LogonType, "Network");
            r.put(Col::Protocol, "ssh");
            r.put(Col::RemoteIP, "192.0.2.10");
            self.initiating(&mut r, Some(2));
            r
        };
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
