//! Every file of the third-party corpus (`<repo>/../shared/corpora/intel`) imports with the
//! expected number of indicators and skipped records, or fails with the expected error, or is
//! listed as not a feed. A file that appears in the corpus without a row here fails the test.
//!
//! How the expected numbers were derived, independently of this crate: a Python script read
//! each file with `json` / `csv` (`skipinitialspace=True`) and applied the rules documented in
//! `src/import/*.rs`. It checks values with its own code (Python's `ipaddress` for addresses
//! and networks, a label regular expression for domains, hex length for hashes, a scheme /
//! host split for URLs), never with this crate's.
//! - STIX: for each id the indicator with the latest `modified` is current (the others are
//!   1 skip each); `pattern_type` other than stix, `revoked`, and patterns containing
//!   FOLLOWEDBY/WITHIN/REPEATS/START are 1 skip each; otherwise the `=` comparisons on
//!   file:hashes.(MD5|SHA-1|SHA-256), ipv4/ipv6-addr:value, domain-name:value, url:value,
//!   x509-certificate:hashes.SHA-1 are found with a regular expression; comparisons whose
//!   value is invalid are dropped; none left is 1 skip; each value is an indicator unless an
//!   earlier record gave the same (type, value), which is 1 skip ("duplicate").
//! - MISP: attributes of `Attribute[]` and `Object[].Attribute[]` of each event; deleted,
//!   unmapped type, a composite value without `|`, or `to_ids` not true are 1 skip each; an
//!   attribute with an invalid value is 1 skip; the rest are values (domain|ip gives 2) with
//!   the same duplicate rule. E.g. existing_event.json: 122 attributes, 83 with
//!   to_ids, of which 15 are `filename` (unmapped): 68 values, 66 distinct; skips = 15
//!   filename + 38 text + 1 link + 2 duplicates = 56 (checked with
//!   `jq '[.Attribute[], .Object[].Attribute[]] | map(select(.to_ids)) | ...'`).
//! - abuse.ch: one value per data line (MalwareBazaar three; a line with one invalid value
//!   is 1 skip), `grep -vc '^#'` lines; a line with no `,` and no `"` is 1 skip (not a
//!   record), a line with separators and the wrong number of fields would be an error.
//!
//! Two corpus files each hold one bad record, which is skipped with its reason (see
//! `bad_records_of_the_corpus_are_skipped_with_their_reason`):
//! - `poisonivy.json`: an indicator's pattern is `[domain-name:value = 'domain
//!   autuo.xicp.net' OR ipv4-addr:value = '60.10.1.115']`; the domain is not a domain name, so
//!   that branch is dropped and the address kept. (42, 24): one indicator fewer than the
//!   (43, 24) the same script gives with the domain repaired to `autuo.xicp.net`, the same
//!   skips, since the indicator still gives its address.
//! - `threatfox_csv_full.sample.csv`: line 9 is the note `[...more records...]`, no
//!   separator, no quote: not a record, 1 skip; the one real record gives 1 indicator.
//!
//! The script (`/tmp/a-import/expected.py` when the numbers were taken) printed, for these
//! two, `(42, 24)` and `(1, 1)`; every other row is unchanged from the first version of the
//! rules, as no other file holds an invalid value or a bare line.

use std::path::{Path, PathBuf};

use vigil_intel::import::{import, Format, ImportOptions, Imported};
use vigil_intel::IntelError;

use crate::NOW_MS;

enum Expect {
    /// (indicators, skipped).
    Counts(usize, usize),
    /// Fails: the error's record, and a part of its message.
    Fails(&'static str, &'static str),
    /// Not imported, and why.
    NotAFeed(&'static str),
}
use Expect::*;

const LICENSE: Expect = NotAFeed("a licence text");
const TEMPLATE: Expect =
    NotAFeed("a MISP object template (definition of an object type), not an event");

const TABLE: &[(&str, Option<Format>, Expect)] = &[
    ("LICENSE-feeds2stix", None, LICENSE),
    ("abusech/feodotracker_ipblocklist.sample.json", Some(Format::Abusech), Counts(4, 0)),
    ("abusech/malwarebazaar_dump_20260226.sample.csv", Some(Format::Abusech), Counts(117, 0)),
    ("abusech/sslblacklist_1.sample.csv", Some(Format::Abusech), Counts(285, 0)),
    ("abusech/threatfox_csv_full.sample.csv", Some(Format::Abusech), Counts(1, 1)),
    ("abusech/urlhaus_csv_recent.sample.csv", Some(Format::Abusech), Counts(10, 0)),
    ("misp/57c4445b-c548-4654-af0b-4be3950d210f.json", Some(Format::Misp), Counts(3, 6)),
    ("misp/LICENSE-PyMISP", None, LICENSE),
    ("misp/misp_event.json", Some(Format::Misp), Counts(0, 2)),
    ("misp/mispevent_testfiles/attribute.json", Some(Format::Misp), Counts(0, 1)),
    ("misp/mispevent_testfiles/attribute_del.json", Some(Format::Misp), Counts(0, 1)),
    ("misp/mispevent_testfiles/def_param.json", Some(Format::Misp), Counts(2, 2)),
    ("misp/mispevent_testfiles/event.json", Some(Format::Misp), Counts(0, 0)),
    ("misp/mispevent_testfiles/event_obj_attr_tag.json", Some(Format::Misp), Counts(1, 1)),
    ("misp/mispevent_testfiles/event_obj_def_param.json", Some(Format::Misp), Counts(0, 3)),
    ("misp/mispevent_testfiles/event_obj_tag.json", Some(Format::Misp), Counts(0, 1)),
    ("misp/mispevent_testfiles/event_tags.json", Some(Format::Misp), Counts(0, 0)),
    ("misp/mispevent_testfiles/existing_event.json", Some(Format::Misp), Counts(66, 56)),
    ("misp/mispevent_testfiles/existing_event_edited.json", Some(Format::Misp), Counts(66, 56)),
    (
        "misp/mispevent_testfiles/galaxy.json",
        Some(Format::Misp),
        Fails("event 0", "not a MISP event"),
    ),
    ("misp/mispevent_testfiles/malware.json", Some(Format::Misp), Counts(0, 1)),
    ("misp/mispevent_testfiles/malware_exist.json", Some(Format::Misp), Counts(3, 3)),
    ("misp/mispevent_testfiles/misp_custom_obj.json", Some(Format::Misp), Counts(0, 2)),
    ("misp/mispevent_testfiles/overwrite_file/definition.json", None, TEMPLATE),
    ("misp/mispevent_testfiles/proposals.json", Some(Format::Misp), Counts(0, 1)),
    ("misp/mispevent_testfiles/shadow.json", Some(Format::Misp), Counts(0, 3)),
    (
        "misp/mispevent_testfiles/sighting.json",
        Some(Format::Misp),
        Fails("event 0", "not a MISP event"),
    ),
    ("misp/mispevent_testfiles/simple.json", Some(Format::Misp), Counts(0, 0)),
    ("misp/mispevent_testfiles/test_object_template/definition.json", None, TEMPLATE),
    ("misp/new_misp_event.json", Some(Format::Misp), Counts(0, 0)),
    ("stix-examples/LICENSE", None, LICENSE),
    ("stix-examples/examples/README.md", None, NotAFeed("notes about the examples")),
    ("stix-examples/examples/indicator-for-c2-ip-address.json", Some(Format::Stix), Counts(1, 0)),
    ("stix-examples/examples/indicator-to-campaign-relationship.json", Some(Format::Stix), Counts(1, 0)),
    ("stix-examples/examples/indicators-for-C2-with-COA.json", Some(Format::Stix), Counts(2, 0)),
    ("stix-examples/examples/infrastructure.json", Some(Format::Stix), Counts(0, 0)),
    ("stix-examples/examples/interop-objectmarking-test.json", Some(Format::Stix), Counts(0, 0)),
    (
        "stix-examples/examples/malicious-email-indicator-with-attachment.json",
        Some(Format::Stix),
        Counts(0, 2),
    ),
    ("stix-examples/examples/threat-reports/apt1.json", Some(Format::Stix), Counts(10, 2)),
    ("stix-examples/examples/threat-reports/poisonivy.json", Some(Format::Stix), Counts(42, 24)),
    ("stix21-bundles/sslblacklist-darkwatchman.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-empirerat.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-fabookie.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-lockpos.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-proxychanger.json", Some(Format::Stix), Counts(2, 0)),
    ("stix21-bundles/sslblacklist-ransomware_darkside.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-redlinestealer.json", Some(Format::Stix), Counts(9, 0)),
    ("stix21-bundles/sslblacklist-revcoderat.json", Some(Format::Stix), Counts(2, 0)),
    ("stix21-bundles/sslblacklist-revengerat.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-rovnix.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-spambot.json", Some(Format::Stix), Counts(1, 0)),
    ("stix21-bundles/sslblacklist-venomrat.json", Some(Format::Stix), Counts(18, 0)),
    ("stix21-bundles/sslipbl-aggressive-2014.json", Some(Format::Stix), Counts(331, 0)),
    ("taxii/LICENSE-medallion", None, LICENSE),
    (
        "taxii/default_data.json",
        None,
        NotAFeed("the backing data of a test TAXII server; its collections are read in tests/it/taxii.rs"),
    ),
];

/// `<crate>/../../../shared/corpora/intel`, or `None` (with the reason printed) when absent.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/intel");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: the corpus {} is absent", dir.display());
        None
    }
}

fn opts() -> ImportOptions {
    ImportOptions::new("corpus", NOW_MS)
}

fn check(name: &str, got: Result<Imported, IntelError>, want: &Expect) {
    match (want, got) {
        (Counts(n, s), Ok(imp)) => {
            assert_eq!(
                (imp.indicators.len(), imp.skipped.len()),
                (*n, *s),
                "{name}: (indicators, skipped); skipped = {:#?}",
                imp.skipped
            );
        }
        (Counts(..), Err(e)) => panic!("{name}: unexpected error: {e}"),
        (Fails(record, msg), Err(e)) => {
            assert_eq!(e.record.as_deref(), Some(*record), "{name}: {e}");
            assert!(e.message.contains(msg), "{name}: {e} (wanted {msg:?})");
        }
        (Fails(..), Ok(imp)) => panic!(
            "{name}: imported {} indicators, expected an error",
            imp.indicators.len()
        ),
        (NotAFeed(_), _) => unreachable!(),
    }
}

fn files(dir: &Path, out: &mut Vec<String>, root: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out, root);
        } else {
            out.push(
                p.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

#[test]
fn every_corpus_file_imports_as_expected() {
    let Some(dir) = corpus_dir() else { return };
    let mut present = Vec::new();
    files(&dir, &mut present, &dir);
    present.sort();
    let listed: Vec<&str> = TABLE.iter().map(|(p, ..)| *p).collect();
    for p in &present {
        assert!(
            listed.contains(&p.as_str()),
            "{p} is in the corpus but not in the table"
        );
    }
    for (path, format, want) in TABLE {
        assert!(
            present.iter().any(|p| p == path),
            "{path} is in the table but not in the corpus"
        );
        let Some(format) = format else {
            let NotAFeed(why) = want else {
                panic!("{path}: no format but expects an import");
            };
            eprintln!("not imported: {path}: {why}");
            continue;
        };
        let data = std::fs::read(dir.join(path)).unwrap();
        check(path, import(*format, &data, &opts()), want);
    }
}

#[test]
fn bad_records_of_the_corpus_are_skipped_with_their_reason() {
    let Some(dir) = corpus_dir() else { return };
    let path = "stix-examples/examples/threat-reports/poisonivy.json";
    let text = std::fs::read_to_string(dir.join(path)).unwrap();
    let imp = import(Format::Stix, text.as_bytes(), &opts()).unwrap();
    // The indicator with the bad domain still gives its address, so it is not skipped...
    let id = "indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a40";
    let from_it: Vec<(&str, &str)> = imp
        .indicators
        .iter()
        .filter(|i| i.provenance.reference == id)
        .map(|i| (i.kind.as_str(), i.value.as_str()))
        .collect();
    assert_eq!(from_it, [("ip", "60.10.1.115")]);
    assert!(!imp.skipped.iter().any(|s| s.record.ends_with(id)));
    // ...and the repaired file gives the domain too, and nothing else changes.
    assert_eq!(text.matches("'domain autuo.xicp.net'").count(), 1);
    let repaired = text.replace("'domain autuo.xicp.net'", "'autuo.xicp.net'");
    let fixed = import(Format::Stix, repaired.as_bytes(), &opts()).unwrap();
    assert_eq!(
        (fixed.indicators.len(), fixed.skipped.len()),
        (imp.indicators.len() + 1, imp.skipped.len())
    );
    assert!(fixed
        .indicators
        .iter()
        .any(|i| i.value == "autuo.xicp.net" && i.provenance.reference == id));
    // Alone, the bad comparison is the skip reason, naming the value.
    let or_address = " OR ipv4-addr:value = '60.10.1.115'";
    assert_eq!(text.matches(or_address).count(), 1);
    let alone = text.replace(or_address, "");
    let imp = import(Format::Stix, alone.as_bytes(), &opts()).unwrap();
    let skip = imp
        .skipped
        .iter()
        .find(|s| s.record == format!("object {id}"))
        .expect("the indicator is skipped");
    assert!(
        skip.reason.starts_with(
            "value \"domain autuo.xicp.net\" of domain-name:value is not a domain name"
        ),
        "{skip:?}"
    );

    let text = std::fs::read_to_string(dir.join("abusech/threatfox_csv_full.sample.csv")).unwrap();
    let imp = import(Format::Abusech, text.as_bytes(), &opts()).unwrap();
    assert_eq!(
        crate::skips(&imp),
        [("line 9", "line 9 is not a record (no fields)")]
    );
    assert_eq!(imp.indicators.len(), 1);
    let ind = &imp.indicators[0];
    assert_eq!(
        (ind.kind.as_str(), ind.value.as_str()),
        ("ip", "8.223.20.63")
    );
    assert_eq!(ind.title, "ThreatFox: Cobalt Strike");
    assert_eq!(
        ind.provenance.labels,
        ["botnet_cc", "Cobalt Strike", "CobaltStrike"]
    );
    assert_eq!(ind.provenance.reference, "threatfox 1301606");
}
