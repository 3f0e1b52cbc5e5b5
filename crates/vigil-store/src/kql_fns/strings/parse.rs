//! Parsing to dynamic values: `parse_url`, `parse_path` and `parse_command_line`. Results
//! are JSON text (objects with KQL's key names; serde_json orders keys by name).

use arrow::datatypes::DataType;
use datafusion::common::exec_err;
use serde_json::{Map, Value as Json};

use super::build;
use super::text::url_decode;
use super::{Call, KqlUdf, Sig, Ty};
use crate::kql_fns::dynamic::json::sorted_text;

const S: Ty = Ty::Str;

pub(super) fn functions(out: &mut Vec<KqlUdf>) {
    out.push(KqlUdf::new(
        "kql_parse_url",
        Sig::fixed(&[S]),
        DataType::Utf8,
        Box::new(|c: &Call| {
            let s = c.str(0);
            build::strings(c.len, |i, out| {
                out.push_str(&sorted_text(parse_url(s.get(i))));
                Ok(true)
            })
        }),
    ));
    out.push(KqlUdf::new(
        "kql_parse_path",
        Sig::fixed(&[S]),
        DataType::Utf8,
        Box::new(|c: &Call| {
            let s = c.str(0);
            build::strings(c.len, |i, out| {
                out.push_str(&sorted_text(parse_path(s.get(i))));
                Ok(true)
            })
        }),
    ));
    out.push(KqlUdf::new(
        "kql_parse_command_line",
        Sig::fixed(&[S, S]),
        DataType::Utf8,
        Box::new(|c: &Call| {
            let (s, kind) = (c.str(0), c.str(1));
            build::strings(c.len, |i, out| {
                let k = kind.get(i);
                if !k.eq_ignore_ascii_case("windows") {
                    return exec_err!(
                        "{}: parse_command_line supports only \"windows\", got \"{k}\"",
                        c.name
                    );
                }
                out.push_str(&Json::from(windows_args(s.get(i))).to_string());
                Ok(true)
            })
        }),
    ));
}

/// The scheme of `s` (`scheme://…`) and what follows `://`.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some((scheme, rest))
}

/// KQL's `parse_url`: `{}` when `s` is not an absolute `scheme://` URL.
fn parse_url(s: &str) -> Json {
    parse_url_parts(s.trim()).unwrap_or_else(|| Json::Object(Map::new()))
}

fn parse_url_parts(s: &str) -> Option<Json> {
    let (scheme, rest) = split_scheme(s)?;
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(p) => rest.split_at(p),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(p) => (&authority[..p], &authority[p + 1..]),
        None => ("", authority),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        let after = &hostport[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => "",
            None => return None,
        };
        (&hostport[..=end], port)
    } else {
        hostport.rsplit_once(':').unwrap_or((hostport, ""))
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
        return None;
    }
    if host.is_empty() && !scheme.eq_ignore_ascii_case("file") {
        return None;
    }
    if host.chars().any(|c| c.is_whitespace() || c == '\\') {
        return None;
    }
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |x: &str| url_decode(x).unwrap_or_else(|| x.to_owned());
        params.insert(decode(k), Json::from(decode(v)));
    }
    let mut m = Map::new();
    m.insert("Scheme".into(), scheme.into());
    m.insert("Host".into(), host.into());
    m.insert("Port".into(), port.into());
    m.insert("Path".into(), path.into());
    m.insert("Username".into(), user.into());
    m.insert("Password".into(), password.into());
    m.insert("Query Parameters".into(), Json::Object(params));
    m.insert("Fragment".into(), fragment.into());
    Some(Json::Object(m))
}

fn is_sep(c: char) -> bool {
    c == '/' || c == '\\'
}

/// `X:` when `s` starts with a drive letter.
fn drive(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':').then(|| &s[..2])
}

/// KQL's `parse_path` of a Windows or Unix path, a UNC path or a `scheme://` URL.
fn parse_path(s: &str) -> Json {
    let (scheme, rest) = split_scheme(s).unwrap_or(("", s));
    // Long-path and device prefixes are part of the directory but not of the root.
    let body = ["\\\\?\\", "\\\\.\\"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))
        .unwrap_or(rest);
    let root = if !scheme.is_empty() {
        body.split(is_sep).next().unwrap_or("")
    } else {
        drive(body).unwrap_or("")
    };
    let last_sep = rest.rfind(is_sep);
    let (mut dir, mut file) = match last_sep {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => ("", rest),
    };
    if last_sep.is_none() && !root.is_empty() && scheme.is_empty() {
        // "C:file.txt": relative to the drive.
        dir = root;
        file = &rest[root.len()..];
    }
    if dir.is_empty() && last_sep == Some(0) {
        dir = &rest[..1];
    }
    let dir_name = if dir == root || dir.len() <= 1 {
        ""
    } else {
        dir.rsplit(is_sep).next().unwrap_or("")
    };
    let (file, stream) = file.split_once(':').unwrap_or((file, ""));
    let ext = match file.rfind('.') {
        Some(p) => &file[p + 1..],
        None => "",
    };
    let mut m = Map::new();
    m.insert("Scheme".into(), scheme.into());
    m.insert("RootPath".into(), root.into());
    m.insert("DirectoryPath".into(), dir.into());
    m.insert("DirectoryName".into(), dir_name.into());
    m.insert("Filename".into(), file.into());
    m.insert("Extension".into(), ext.into());
    m.insert("AlternateDataStreamName".into(), stream.into());
    Json::Object(m)
}

/// The arguments of a Windows command line, split as `CommandLineToArgvW` and the C runtime
/// do: the program name ends at the first whitespace outside quotes (no escapes in it); in
/// the other arguments 2n backslashes before `"` give n backslashes and toggle quoting,
/// 2n+1 give n backslashes and a literal `"`, and `""` inside quotes is a literal `"`.
fn windows_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = s.trim_start_matches([' ', '\t']).chars().peekable();
    if chars.peek().is_none() {
        return args;
    }
    // The program name.
    let mut prog = String::new();
    let mut quoted = false;
    for c in chars.by_ref() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => break,
            c => prog.push(c),
        }
    }
    args.push(prog);
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.peek().is_none() {
            return args;
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            match c {
                '\\' => {
                    let mut n = 0;
                    while chars.next_if_eq(&'\\').is_some() {
                        n += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        arg.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            arg.push('"');
                            chars.next();
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', n));
                    }
                }
                '"' => {
                    chars.next();
                    if quoted && chars.peek() == Some(&'"') {
                        arg.push('"');
                        chars.next();
                    } else {
                        quoted = !quoted;
                    }
                }
                ' ' | '\t' if !quoted => break,
                c => {
                    arg.push(c);
                    chars.next();
                }
            }
        }
        args.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, s, A};
    use serde_json::Value as Json;
    use A::*;

    fn json(t: &str) -> Json {
        serde_json::from_str(t).unwrap()
    }

    #[test]
    fn parse_url_splits_every_part() {
        let got = json(
            &s(
                "kql_parse_url",
                &[S(
                    "scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v%202#fragment",
                )],
            )
            .unwrap(),
        );
        let want = serde_json::json!({
            "Scheme": "scheme", "Host": "host", "Port": "1234", "Path": "/this/is/a/path",
            "Username": "username", "Password": "password",
            "Query Parameters": {"k1": "v1", "k2": "v 2"}, "Fragment": "fragment"
        });
        assert_eq!(got, want);
        let got = json(&s("kql_parse_url", &[S("https://example.com")]).unwrap());
        assert_eq!(got["Host"], "example.com");
        assert_eq!(got["Port"], "");
        assert_eq!(got["Path"], "");
        assert_eq!(got["Query Parameters"], serde_json::json!({}));
        let got = json(&s("kql_parse_url", &[S("http://[::1]:8080/x")]).unwrap());
        assert_eq!(
            (got["Host"].as_str(), got["Port"].as_str()),
            (Some("[::1]"), Some("8080"))
        );
        for bad in [
            "not a url",
            "www.example.com/path",
            "http://host:port/",
            "http://",
        ] {
            assert_eq!(s("kql_parse_url", &[S(bad)]).unwrap(), "{}", "{bad}");
        }
    }

    #[test]
    fn parse_path_handles_windows_unix_unc_and_urls() {
        let p = |t| json(&s("kql_parse_path", &[S(t)]).unwrap());
        let obj = |v: [&str; 7]| {
            serde_json::json!({
                "Scheme": v[0], "RootPath": v[1], "DirectoryPath": v[2], "DirectoryName": v[3],
                "Filename": v[4], "Extension": v[5], "AlternateDataStreamName": v[6]
            })
        };
        assert_eq!(
            p("C:\\temp\\file.txt"),
            obj(["", "C:", "C:\\temp", "temp", "file.txt", "txt", ""])
        );
        assert_eq!(
            p("temp\\file.txt"),
            obj(["", "", "temp", "temp", "file.txt", "txt", ""])
        );
        assert_eq!(
            p("file://C:/temp/file.txt:some.exe"),
            obj(["file", "C:", "C:/temp", "temp", "file.txt", "txt", "some.exe"])
        );
        assert_eq!(
            p("\\\\shared\\users\\temp\\file.txt.gz"),
            obj([
                "",
                "",
                "\\\\shared\\users\\temp",
                "temp",
                "file.txt.gz",
                "gz",
                ""
            ])
        );
        assert_eq!(
            p("/usr/lib/temp/file.txt"),
            obj(["", "", "/usr/lib/temp", "temp", "file.txt", "txt", ""])
        );
        assert_eq!(
            p("https://storage.blob.core.windows.net/mycontainer/myblob.jpg"),
            obj([
                "https",
                "storage.blob.core.windows.net",
                "storage.blob.core.windows.net/mycontainer",
                "mycontainer",
                "myblob.jpg",
                "jpg",
                ""
            ])
        );
        assert_eq!(p("/x.sh"), obj(["", "", "/", "", "x.sh", "sh", ""]));
        assert_eq!(p("x"), obj(["", "", "", "", "x", "", ""]));
        assert_eq!(p(""), obj(["", "", "", "", "", "", ""]));
    }

    #[test]
    fn command_lines_split_as_windows_does() {
        let cl = |t| s("kql_parse_command_line", &[S(t), S("windows")]).unwrap();
        assert_eq!(
            cl("\"C:\\Program Files\\x.exe\" -a \"b c\" d"),
            r#"["C:\\Program Files\\x.exe","-a","b c","d"]"#
        );
        assert_eq!(
            cl(r#"x a\\\"b c\\"d e" f"#),
            r#"["x","a\\\"b","c\\d e","f"]"#
        );
        assert_eq!(cl(r#"x a\\b "c""d""#), r#"["x","a\\\\b","c\"d"]"#);
        assert_eq!(cl(r#"C:\dir\x.exe "" z"#), r#"["C:\\dir\\x.exe","","z"]"#);
        assert_eq!(cl("   "), "[]");
        assert_eq!(cl("  cmd.exe  /c  dir "), r#"["cmd.exe","/c","dir"]"#);
        let e = err("kql_parse_command_line", &[S("ls -l"), S("linux")]);
        assert!(
            e.contains("parse_command_line supports only \"windows\""),
            "{e}"
        );
    }
}
